"""compile_module: the same function and state dict, or a clear error without a C++ compiler."""
import pytest
import torch
from torch import nn

from wsbench.api import UserError, compile_module


def small() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))


def test_compiled_module_computes_the_same_function_with_the_same_state_dict():
    eager, compiled = small(), small()
    compile_module(compiled, torch.device("cpu"))
    x = torch.randn(64, 3)
    assert list(compiled.state_dict()) == list(eager.state_dict())
    for mode in (nn.Module.train, nn.Module.eval):
        mode(eager), mode(compiled)
        torch.testing.assert_close(compiled(x), eager(x), rtol=1e-5, atol=1e-6)


def test_without_a_compiler_the_error_names_the_parameter(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(UserError, match=r"C\+\+ compiler.*--param compile=false"):
        compile_module(small(), torch.device("cpu"))
