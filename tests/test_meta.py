"""Functa and MWT: the meta-learned inner loops and what the MWT paper's ablations rely on."""
import pytest
import torch

from wsbench.core.request import Request
from wsbench.core.runner import Runner
from wsbench.core.spec import plan
from wsbench.core.context import RunContext
from wsbench.inr.fields import Field
from wsbench.inr.meta import inner_sgd, step_batch
from wsbench.inr.siren import SirenLayout, pixel_grid
from wsbench.models.modulated import ModulatedSiren
from wsbench.models.mwt import MWTNetwork
from wsbench.core.params import resolve

LAYOUT = SirenLayout((2, 8, 8, 1))


def images(n=6, seed=0):
    return Field(pixel_grid(5, 5), torch.rand(n, 25, 1, generator=torch.Generator().manual_seed(seed)), "mse")


def mwt(registry, **over):
    cls = registry.method("mwt")
    p = {**resolve(cls, {}, profile="smoke"), **over}
    torch.manual_seed(0)
    return MWTNetwork(LAYOUT, 3, p)


def test_inner_sgd_is_plain_sgd_and_differentiable():
    start = torch.tensor([[1.0, -2.0]], requires_grad=True)
    rates = torch.tensor([0.1, 0.2], requires_grad=True)
    x = inner_sgd(start, rates, lambda x, j: (x ** 2).sum(1), create_graph=True)
    # x1 = x0 (1 - 0.2), x2 = x1 (1 - 0.4)
    torch.testing.assert_close(x.detach(), torch.tensor([[0.48, -0.96]]))
    x.sum().backward()
    torch.testing.assert_close(start.grad, torch.full((1, 2), 0.48))
    assert rates.grad.abs().min() > 0


def test_mwt_gradients_reach_the_initialisation_and_the_rates(registry):
    net = mwt(registry)
    rec, logits = net(images(), 1.0, torch.Generator().manual_seed(0), w_cls=0.01)
    (rec.mean() + logits.logsumexp(1).mean()).backward()
    assert net.theta.grad.abs().sum() > 0 and net.rates.grad.abs().sum() > 0
    assert net.classifier.beta.grad.abs().sum() > 0
    # second order: the gradient differs from the first-order one
    first = mwt(registry)
    rec1, _ = first(images(), 1.0, torch.Generator().manual_seed(0), w_cls=0.0, create_graph=False)
    rec2, _ = net(images(), 1.0, torch.Generator().manual_seed(0), w_cls=0.0)
    g1, = torch.autograd.grad(rec1.mean(), first.theta)
    g2, = torch.autograd.grad(rec2.mean(), net.theta)
    assert not torch.allclose(g1, g2)


def test_w_cls_scales_the_classification_gradient_on_the_fitting(registry):
    grads = {}
    for w_cls in (0.0, 0.01, 1.0):
        net = mwt(registry)
        _, logits = net(images(), 1.0, torch.Generator().manual_seed(0), w_cls=w_cls)
        ce = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0, 1, 2]))
        ce.backward()
        assert net.classifier.out[1].weight.grad.abs().sum() > 0  # the classifier always learns
        grads[w_cls] = net.theta.grad.clone()
    assert grads[0.0].abs().max() == 0  # WT: no classification signal in the fitting
    torch.testing.assert_close(grads[0.01] * 100, grads[1.0])


def test_k0_mwt_classifies_the_initialisation(registry):
    net = mwt(registry, inner_steps=0)
    a, b = images(seed=1), images(seed=2)
    with torch.no_grad():
        phi = net.fit(a, 1.0, torch.Generator(), create_graph=False)
        _, la = net(a, 1.0, torch.Generator(), w_cls=0.0)
        _, lb = net(b, 1.0, torch.Generator(), w_cls=0.0)
    torch.testing.assert_close(phi, net.theta.expand_as(phi))
    torch.testing.assert_close(la, lb)  # every signal gets the logits of theta
    torch.testing.assert_close(la, la[:1].expand_as(la))


def test_functa_gradients_reach_the_base_and_the_rates(registry):
    net = ModulatedSiren(LAYOUT, 4)
    rates = torch.nn.Parameter(torch.full((4,), 1.0))
    field = images()
    z = registry.method("functa")()._inner(net, rates, field, 1.0, torch.Generator(), 2, create_graph=True)
    assert z.abs().sum() > 0  # the latents moved from zero
    net.loss(z, field, None).mean().backward()
    assert net.base.grad.abs().sum() > 0 and rates.grad.abs().sum() > 0
    assert net.to_shifts.weight.grad.abs().sum() > 0


def test_functa_shifts_only_move_hidden_biases(registry):
    net = ModulatedSiren(LAYOUT, 4)
    w = net.weights(torch.randn(3, 4)).detach()
    moved = (w != net.base.detach()).any(0)
    hidden_bias = torch.zeros(LAYOUT.num_params, dtype=torch.bool)
    hidden_bias[16:24] = hidden_bias[24 + 64:24 + 64 + 8] = True  # b0 and b1 of 2-8-8-1
    assert torch.equal(moved, hidden_bias)


def test_step_batches_cover_the_data_and_depend_only_on_seed_and_step():
    first = torch.cat([step_batch(10, 3, seed=0, step=s)[0] for s in range(3)])
    assert len(set(first.tolist())) == 9  # one pass: 3 disjoint batches, the partial last dropped
    assert torch.equal(step_batch(10, 3, 0, 4)[0], step_batch(10, 3, 0, 4)[0])
    assert not torch.equal(step_batch(10, 3, 0, 4)[0], step_batch(10, 3, 1, 4)[0])


@pytest.mark.parametrize("name", ["functa", "mwt"])
def test_meta_methods_resume_exactly(registry, dirs, name, monkeypatch):
    """A run killed after its first checkpoint resumes there, ends with the same
    predictions as an uninterrupted one, and its cost adds the killed attempt."""
    data_root, results = dirs
    (spec,) = plan(registry, [name], ["synthetic"], [0], "smoke", [], [])
    runner = Runner(registry, Request(str(data_root), str(results), "cpu", registry.dirs, quiet=True))
    saves, die = [], []
    real = RunContext.save_state

    def counting(self, key, state):
        real(self, key, state)
        saves.append(key)
        if die:
            die.pop()
            raise KeyboardInterrupt
    monkeypatch.setattr(RunContext, "save_state", counting)
    whole, whole_saves = runner.execute(spec), len(saves)  # the body of a run, in this process
    saves.clear()
    die.append(1)
    with pytest.raises(KeyboardInterrupt):  # killed after its first checkpoint
        runner.execute(spec)
    saves.clear()
    resumed = runner.execute(spec)
    assert len(saves) == whole_saves - 1  # it went on from the checkpoint
    assert resumed["heads"] == whole["heads"] and resumed["status"] == "ok"
    assert whole["cost"]["attempts"] == 1 and not whole["cost"]["resumed"]
    assert resumed["cost"]["attempts"] == 2 and resumed["cost"]["resumed"]
    (earlier,) = resumed["cost"]["earlier_attempts"]
    assert earlier["wall_s"] > 0 and resumed["cost"]["wall_s"] > earlier["wall_s"]
