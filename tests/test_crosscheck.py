"""The cross-check harness itself (crosscheck/common.py), without any authors' code: two
sides that compute the same function and take the same steps pass, and a side that differs
in its network or in its optimiser fails, so a check against a real checkout can fail."""
import argparse
import json

import pytest
import torch
from torch import nn

from crosscheck.common import SHORT_WARMUP, Side, compare, report, with_short_warmup
from wsbench.train.optim import Optimisation


def side(model: nn.Module, optimisation: Optimisation) -> Side:
    optimiser = optimisation.build(model, epochs=1)
    return Side(logits=model, train_step=lambda x, y: optimiser.step(model(x), y).item())


def pair(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    twin = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    twin.load_state_dict(model.state_dict())
    return model, twin


def test_equal_sides_pass_and_a_different_network_or_optimiser_fails(tmp_path):
    x = torch.randn(40, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(2))
    warmup = Optimisation(1e-2, 0.01, schedule="warmup", warmup_steps=5, clip_norm=10.0)
    model, twin = pair()
    same = compare(side(model, warmup), side(twin, warmup), x, y, batch=8)
    assert same["max_logit_relative_error"] == 0 and same["max_loss_difference"] == 0
    assert same["losses_wsbench"][-1] < same["losses_wsbench"][0]  # the steps really train

    model, twin = pair()
    with torch.no_grad():
        twin[2].bias.add_(1e-3)
    assert compare(side(model, warmup), side(twin, warmup), x, y, batch=8)["max_logit_relative_error"] > 1e-6

    model, twin = pair()
    other = Optimisation(1e-2, 0.01, schedule="warmup", warmup_steps=5, warmup_start=0, clip_norm=10.0)
    assert compare(side(model, warmup), side(twin, other), x, y, batch=8)["max_loss_difference"] > 1e-5

    args = argparse.Namespace(batch=8, out=tmp_path / "toy.json")
    rates = {"authors": 1.0, "wsbench": 2.0}
    with pytest.raises(SystemExit) as done:
        report("toy", args, {"commit": None}, {"file": "toy.yml"}, same, rates, adapter_version=3)
    written = json.loads(args.out.read_text())
    assert done.value.code == 0 and written["equal"] and written["adapter_version"] == 3


def test_a_difference_only_after_the_warm_up_fails_through_the_short_warm_up_comparison(tmp_path):
    """Two optimisers that differ only in weight decay agree to 1e-5 over 20 steps of a long
    warm-up, where the rate stays tiny; the comparison at SHORT_WARMUP steps tells them apart,
    and its loss difference is what the report judges."""
    x = torch.randn(40, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(2))

    def run(warmup_steps: int) -> dict:
        model, twin = pair()
        ours = Optimisation(1e-3, 0.01, schedule="warmup", warmup_steps=warmup_steps)
        theirs = Optimisation(1e-3, 0.02, schedule="warmup", warmup_steps=warmup_steps)
        return compare(side(model, ours), side(twin, theirs), x, y, batch=8)

    long, short = run(10_000), run(SHORT_WARMUP)
    assert long["max_loss_difference"] <= 1e-5 < short["max_loss_difference"]
    both = with_short_warmup(long, short)
    assert both["max_loss_difference"] == short["max_loss_difference"]
    assert both["short_warmup"]["warmup_steps"] == SHORT_WARMUP
    assert "max_logit_relative_error" not in both["short_warmup"]
    args = argparse.Namespace(batch=8, out=tmp_path / "toy.json")
    with pytest.raises(SystemExit) as done:
        report("toy", args, {"commit": None}, {"file": "toy.yml"}, both, {"authors": 1.0, "wsbench": 1.0})
    assert done.value.code == 1 and not json.loads(args.out.read_text())["equal"]


def test_side_by_side_keeps_the_authors_cuda_calls_on_the_cpu_and_restores_them():
    from crosscheck.side_by_side import Unused, on_the_cpu

    class Features:
        def to(self, device):
            raise AssertionError(f"moved to {device}")

    original, original_module = torch.Tensor.cuda, nn.Module.cuda
    with on_the_cpu(Features):
        x = torch.ones(3).cuda()
        model = nn.Linear(3, 2).cuda()
        features = Features()
        assert features.to("cuda") is features
        assert model(x).device.type == "cpu"
    assert torch.Tensor.cuda is original and nn.Module.cuda is original_module
    with pytest.raises(AssertionError, match="moved to cuda"):
        Features().to("cuda")

    # an import that their loader makes for paths the run never takes resolves to no-ops,
    # while the module machinery's dunder lookups still fail as for a real module
    module = Unused("torchvision")
    assert module.transforms() is None
    with pytest.raises(AttributeError):
        module.__file__
