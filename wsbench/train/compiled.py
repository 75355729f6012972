"""torch.compile for a method's hot module, or a clear error where it cannot run."""
from __future__ import annotations

import os
import shutil

import torch
from torch import nn

from wsbench.core.errors import UserError


def compile_module(module: nn.Module, device: torch.device, param: str = "compile") -> nn.Module:
    """Compile `module` in place (its parameters and state-dict keys stay as they are).

    Inductor fuses the elementwise chains between matrix products (batch norm, activations,
    pooling), which on a CPU cost more memory traffic than the products cost arithmetic."""
    require_compiler(device, f"--param {param}=false")
    module.compile()
    return module


def require_compiler(device: torch.device, off: str) -> None:
    """On a CPU torch.compile needs a C++ compiler; without one stop now, naming `off` (the
    setting that turns compilation off), instead of failing at the first compiled step."""
    if device.type == "cpu" and not any(os.environ.get("CXX") and shutil.which(os.environ["CXX"]) or
                                        shutil.which(name) for name in ("g++", "c++", "clang++")):
        raise UserError(f"torch.compile on the CPU needs a C++ compiler (g++, c++ or clang++; or set CXX) and "
                        f"none was found: install one, or run with {off}")
