import pytest

from ml.errors import ConfigError
from ml.hardware import Hardware, cpu_has_native_bf16, resolve_precision

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
AVX512_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16 avx512_vnni\n"
AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n"


@pytest.mark.parametrize(("cpuinfo", "native"), [(AVX2_ONLY, False), (AVX512_BF16, True), (AMX, True), ("", False)])
def test_bf16_in_hardware_is_read_from_the_cpus_flags(tmp_path, cpuinfo, native):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert cpu_has_native_bf16(str(path)) is native


def test_an_unreadable_cpuinfo_means_no_bf16(tmp_path):
    assert cpu_has_native_bf16(str(tmp_path / "missing")) is False


def cpu(bf16: bool) -> Hardware:
    return Hardware(kind="cpu", name="2 threads", count=1, bf16=bf16)


def test_auto_picks_bf16_only_on_a_cpu_that_computes_it():
    assert resolve_precision("auto", cpu(bf16=True)) == "bf16"
    assert resolve_precision("auto", cpu(bf16=False)) == "fp32"
    assert resolve_precision("auto", Hardware(kind="mps", name="Apple GPU", count=1, bf16=False)) == "fp32"


def test_an_explicit_choice_is_kept_and_fp16_is_refused_on_a_cpu():
    assert resolve_precision("bf16", cpu(bf16=False)) == "bf16"  # allowed, only slow
    assert resolve_precision("fp32", cpu(bf16=True)) == "fp32"
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        resolve_precision("fp16", cpu(bf16=True))
