"""Which device trains and in what precision.

Training uses an NVIDIA GPU (CUDA) when there is one, else Apple's GPU (MPS), else the CPU. Mixed
precision (16-bit arithmetic for most operations, 32-bit master weights) is about twice as fast on GPUs
that have tensor cores. On a CPU it pays only where the CPU does bf16 arithmetic itself (AVX-512 BF16
or AMX): there 'auto' picks bf16, elsewhere fp32, because PyTorch emulates bf16 on other CPUs and is
several times slower than in fp32 (both measured: README, "Measured", the cpu preset).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ml.errors import ConfigError

# /proc/cpuinfo flags of CPUs that multiply bf16 numbers in hardware
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Hardware:
    kind: str  # "cuda", "mps" or "cpu"
    name: str
    count: int
    bf16: bool

    def describe(self) -> str:
        many = f"{self.count} x " if self.count > 1 else ""
        return f"{self.kind} ({many}{self.name})"

    def to_dict(self) -> dict:
        return asdict(self)


def cpu_cores() -> int:
    """The cores this process may run on (a container's CPU limit, not the host's core count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def detect_hardware() -> Hardware:
    """Look at what this process can use (without initialising CUDA more than torch itself does)."""
    import torch

    if torch.cuda.is_available():
        return Hardware(
            kind="cuda",
            name=torch.cuda.get_device_name(0),
            count=torch.cuda.device_count(),
            bf16=torch.cuda.is_bf16_supported(),
        )
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Hardware(kind="mps", name="Apple GPU", count=1, bf16=False)
    return Hardware(kind="cpu", name=f"{torch.get_num_threads()} threads", count=1, bf16=cpu_has_native_bf16())


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU does bf16 arithmetic in hardware (Linux; elsewhere we cannot tell, so no)."""
    try:
        with open(cpuinfo) as lines:
            flags = next((line.partition(":")[2].split() for line in lines if line.startswith("flags")), [])
    except OSError:
        return False
    return not CPU_BF16_FLAGS.isdisjoint(flags)


def resolve_precision(requested: str, hardware: Hardware) -> str:
    """Turn 'auto' into fp32/fp16/bf16 and refuse what the device cannot do."""
    if requested == "auto":
        if hardware.kind == "cuda":
            return "bf16" if hardware.bf16 else "fp16"
        return "bf16" if hardware.bf16 else "fp32"  # a CPU with bf16 in hardware; MPS reports none
    if requested == "fp16" and hardware.kind == "cpu":
        raise ConfigError("precision fp16 needs a GPU; on a CPU use fp32 (or bf16 on recent CPUs)")
    if requested == "bf16" and hardware.kind == "cuda" and not hardware.bf16:
        raise ConfigError(f"this GPU ({hardware.name}) does not support bf16; use fp16 or auto")
    return requested


def memory_bytes() -> int | None:
    """The memory this process may use: the machine's, or its container's limit (cgroup v2 or v1) when lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return total


def machine_profile(folder: str | None = None) -> dict:
    """What a worker can give a run, for the launch form's estimate (``ml.estimate``): its device and that
    device's memory, its cores and memory, and the free disk where runs are written (``folder``)."""
    import shutil

    import torch

    hardware = detect_hardware()
    profile = {**hardware.to_dict(), "cores": cpu_cores(), "memory_bytes": memory_bytes()}
    if hardware.kind == "cuda":
        profile["device_memory_bytes"] = torch.cuda.get_device_properties(0).total_memory
    if folder:
        os.makedirs(folder, exist_ok=True)
        profile["disk_free_bytes"] = shutil.disk_usage(folder).free
    return profile


if __name__ == "__main__":  # the worker asks in a process of its own, so that it never sets up CUDA itself
    import json
    import sys

    print(json.dumps(machine_profile(sys.argv[1] if len(sys.argv) > 1 else None)))
