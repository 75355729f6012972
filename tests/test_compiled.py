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


def test_compiled_fitting_fits_alike_into_a_zoo_of_its_own(monkeypatch):
    """inr_compile: the same fit up to float rounding (Inductor's sine is not ATen's), under
    another zoo id; zoos fitted before the setting existed keep theirs."""
    import dataclasses

    from wsbench.inr.fields import Field
    from wsbench.inr.fit import fit_in_chunks
    from wsbench.inr.siren import SirenLayout, pixel_grid
    from wsbench.zoo.store import ZooSpec
    layout = SirenLayout((2, 16, 1))
    field = Field(pixel_grid(8, 8), torch.rand(12, 64, 1, generator=torch.Generator().manual_seed(0)), "mse")
    init = layout.init(12, torch.Generator().manual_seed(1))
    plain, plain_psnr = fit_in_chunks(layout, field, init, 30, 1e-3, psnr_stop=6.0, chunk=5)
    fused, fused_psnr = fit_in_chunks(layout, field, init, 30, 1e-3, psnr_stop=6.0, chunk=5, compiled=True)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-3)
    torch.testing.assert_close(fused_psnr, plain_psnr, rtol=0, atol=1e-2)
    assert (plain_psnr >= 6).any() and (plain_psnr < 6).any()  # the early stop took some INRs out, not all
    spec = ZooSpec("digits", {"images": "x"}, "train")
    assert spec.zoo_id == "a1433be9f0169d15"  # its id before inr_compile existed
    assert dataclasses.replace(spec, inr_compile=True).zoo_id != spec.zoo_id
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(UserError, match=r"C\+\+ compiler.*inr_compile=false"):
        from wsbench.train.compiled import require_compiler
        require_compiler(torch.device("cpu"), "inr_compile=false (--zoo-param or --param)")


def test_compiled_hypernetwork_loss_gives_the_same_losses_and_gradients():
    """HyperINR's compile: its loss and both gradients (hypernetwork, latents) as the plain
    ones, up to float rounding, at two batch and query sizes (one program for both)."""
    from wsbench.api import HyperNetwork, SirenLayout
    from wsbench.inr.fields import Field
    from wsbench.inr.siren import pixel_grid
    layout = SirenLayout((2, 16, 16, 1))
    field = Field(pixel_grid(8, 8), torch.rand(6, 64, 1, generator=torch.Generator().manual_seed(0)), "mse")
    torch.manual_seed(0)
    plain = HyperNetwork(4, (32,), layout)
    fused = HyperNetwork(4, (32,), layout)
    fused.load_state_dict(plain.state_dict())
    fused.compile_loss()
    for batch, queries in ((6, None), (4, torch.arange(0, 64, 3))):
        z = torch.randn(batch, 4, generator=torch.Generator().manual_seed(batch))
        grads = []
        for net in (plain, fused):
            net.zero_grad()
            zz = z.clone().requires_grad_(True)
            loss = net.loss(zz, field.take(slice(0, batch)), queries)
            loss.sum().backward()
            grads.append((loss.detach(), zz.grad, net.net[0].weight.grad))
        for a, b in zip(*grads):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
    assert list(fused.state_dict()) == list(plain.state_dict())
