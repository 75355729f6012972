"""FastDropout drops entries with probability p and keeps the expectation, as nn.Dropout."""
import pytest
import torch

from wsbench.models.dropout import FastDropout


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_drops_with_probability_p_and_keeps_the_expectation(p):
    torch.manual_seed(0)
    drop = FastDropout(p).train()
    x = torch.ones(1000, 1001)  # an odd count: the last 64-bit draw is used in part
    out = drop(x)
    kept = out != 0
    assert abs(1 - kept.float().mean().item() - p) < 3e-3
    assert torch.allclose(out[kept], torch.tensor(1 / (1 - p)), rtol=1e-4)
    assert abs(out.mean().item() - 1) < 1e-2


def test_gradient_flows_through_kept_entries_only_and_eval_is_identity():
    torch.manual_seed(0)
    drop = FastDropout(0.5).train()
    x = torch.randn(64, 33, requires_grad=True)
    out = drop(x)
    out.sum().backward()
    assert torch.equal(x.grad != 0, out != 0)
    drop.eval()
    assert drop(x) is x
    assert FastDropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match="must be in"):
        FastDropout(1.0)
