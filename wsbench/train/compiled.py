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
    pooling), which on a CPU cost more memory traffic than the products cost arithmetic.
    On a CPU it needs a C++ compiler; without one the run stops here, naming `param` (the
    method parameter that turns compilation off), instead of failing at its first step."""
    if device.type == "cpu" and not any(os.environ.get("CXX") and shutil.which(os.environ["CXX"]) or
                                        shutil.which(name) for name in ("g++", "c++", "clang++")):
        raise UserError(f"torch.compile on the CPU needs a C++ compiler (g++, c++ or clang++; or set CXX) and "
                        f"none was found: install one, or run with --param {param}=false")
    module.compile()
    return module
