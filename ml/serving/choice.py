"""Which runtime serves a trained model, from what was measured on it after training.

A runtime is an engine and a precision: PyTorch with the weights as trained, or the model's ONNX export
run by ONNX Runtime, in 32-bit floats or quantized to 8-bit integers (int8). The serving check after
training (``ml.serving.check``) scores each on the same test reviews; "auto" serves the fastest that
loses at most a given number of accuracy points against PyTorch. Plain Python on those measurements, so
that a web process decides without importing a machine-learning library.
"""

from __future__ import annotations

from ml.results import ServingCheck

PYTORCH = "pytorch"
ONNX_FP32 = "onnx-fp32"
ONNX_INT8 = "onnx-int8"
PYTORCH_INT8 = "pytorch-int8"  # torch.ao's dynamic quantization, deprecated by PyTorch: only when forced
AUTO = "auto"
DEFAULT_MAX_LOSS_POINTS = 0.5  # the accuracy "auto" may give up for speed, unless the site says otherwise

MEASURED = (PYTORCH, ONNX_FP32, ONNX_INT8)  # what the serving check scores, and what "auto" picks from
RUNTIMES = (*MEASURED, PYTORCH_INT8)
ONNX_VARIANTS = {ONNX_FP32: "fp32", ONNX_INT8: "int8"}  # runtime -> the export's variant (ml.serving.onnx_export)


def serving_runtime(check: ServingCheck | None, *, setting: str, max_loss_points: float) -> str:
    """The runtime to serve: ``setting`` when it names one, else ("auto") the fastest measured runtime
    that answered one review sooner than PyTorch's and lost at most ``max_loss_points`` of accuracy.

    A model without a check (trained before it existed, with it turned off, or whose export failed) is
    served by PyTorch, which every trained model has.
    """
    if setting != AUTO:
        return setting
    measured = check.runtimes if check else {}
    fit = [
        name
        for name, scores in measured.items()
        if name in MEASURED
        and scores.ms_per_review is not None
        and scores.accuracy_loss_points is not None
        and scores.accuracy_loss_points <= max_loss_points
    ]
    if PYTORCH not in fit:
        return PYTORCH
    return min(fit, key=lambda name: (measured[name].ms_per_review, name != PYTORCH))
