"""The precision of a classifier's forward passes.

With `bf16` the forward passes run under `torch.autocast` in bfloat16: matrix products and
convolutions in bfloat16, reductions, normalisations and the loss in float32, the weights and
the optimiser's state float32 throughout (mixed precision, as on a GPU). Where the device
multiplies bfloat16 natively (CPUs with AVX512-BF16 or AMX, NVIDIA GPUs from Ampere on) the
products run at several times the float32 rate; elsewhere they are emulated and slower.
"""
from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from wsbench.core.params import Param

PRECISIONS = ("fp32", "bf16")


def precision_param(default: str) -> Param:
    """The `precision` parameter of a method whose classifiers train through the shared loop;
    runs from before it existed computed in float32."""
    return Param(default, "forward passes of the classifier: fp32, or bf16 mixed precision (bfloat16 products, "
                          "float32 weights and optimiser; several times faster where the device has native "
                          "bfloat16, slower where it has not)", choices=PRECISIONS, legacy="fp32")


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """The context a forward pass at `precision` runs in (a no-op for fp32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def native_bf16(device: torch.device) -> bool:
    """Whether the device multiplies bfloat16 in hardware (else bf16 runs are emulated, slowly)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()
