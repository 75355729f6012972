"""MWT as its authors built it (wsbench.models.mwt_transformer): what their model guarantees.

The classifier is a Transformer without positional encoding over neuron tokens, so it is a
function of the set of tokens lambda * (delta + beta): permuting the classified neurons of
delta together with beta's rows leaves the logits alone, and so does permuting delta's
alone while beta is uniform (zero at the start). It is not invariant to the SIREN's own
hidden-neuron symmetry (a neuron's outgoing weights move too), nor, with a learned beta, to
permuting delta alone: these are the negative controls.
"""
import pytest
import torch

from wsbench.models.mwt_transformer import EndToEndMWT, draw_pixels, pixel_targets
from wsbench.train.onecycle import OneCycleOptimisation

WIDTH, DEPTH = 128, 2  # two heads of 64 channels, two classified layers


def model(seed=0) -> EndToEndMWT:
    torch.manual_seed(seed)
    return EndToEndMWT(2, 1, 5, width=WIDTH, depth=DEPTH, inner_steps=2, blocks=2).double()


def offsets(net: EndToEndMWT, n=3, seed=1) -> torch.Tensor:
    """Small offsets phi - theta, as the inner steps give (lambda = 500 scales them up)."""
    g = torch.Generator().manual_seed(seed)
    return 1e-3 * torch.randn(n, net.siren.layout.num_params, generator=g, dtype=torch.float64)


def permute_outputs(net: EndToEndMWT, delta: torch.Tensor, layer: int, perm: torch.Tensor,
                    and_next_inputs: bool = False) -> torch.Tensor:
    """delta with the output neurons of `layer` reordered (and, for the SIREN's own symmetry,
    the next layer's incoming weights with them)."""
    out = delta.clone()
    layers = net.siren.layout.unflatten(out)
    w, b = layers[layer]
    w.copy_(w[:, perm])
    b.copy_(b[:, perm])
    if and_next_inputs:
        nxt, _ = layers[layer + 1]
        nxt.copy_(nxt[:, :, perm])
    return out


def beta_rows(layer: int) -> slice:
    """The rows of beta that belong to the classified layer `layer` (>= 1)."""
    return slice((layer - 1) * WIDTH, layer * WIDTH)


def test_logits_are_invariant_to_permuting_tokens_with_their_beta():
    net = model()
    with torch.no_grad():
        net.classifier.beta.normal_(0, 1e-3)
        delta = offsets(net)
        perm = torch.randperm(WIDTH, generator=torch.Generator().manual_seed(2))
        for layer in range(1, DEPTH + 1):
            before = net.classifier(delta)
            rows = net.classifier.beta[beta_rows(layer)]
            rows.copy_(rows[perm])
            torch.testing.assert_close(net.classifier(permute_outputs(net, delta, layer, perm)), before,
                                       rtol=1e-9, atol=1e-9)


def test_with_uniform_beta_logits_are_invariant_to_permuting_the_neurons_of_delta():
    net = model()
    with torch.no_grad():
        delta = offsets(net)
        perm = torch.randperm(WIDTH, generator=torch.Generator().manual_seed(3))
        for layer in range(1, DEPTH + 1):
            torch.testing.assert_close(net.classifier(permute_outputs(net, delta, layer, perm)),
                                       net.classifier(delta), rtol=1e-9, atol=1e-9)


def test_negative_controls_the_siren_symmetry_and_a_learned_beta_change_the_logits():
    net = model()
    with torch.no_grad():
        delta = offsets(net)
        perm = torch.randperm(WIDTH, generator=torch.Generator().manual_seed(4))
        siren_symmetry = permute_outputs(net, delta, 1, perm, and_next_inputs=True)
        assert (net.classifier(siren_symmetry) - net.classifier(delta)).abs().max() > 1e-4
        net.classifier.beta.normal_(0, 1e-3)
        assert (net.classifier(permute_outputs(net, delta, 1, perm)) - net.classifier(delta)).abs().max() > 1e-4


def test_the_first_layer_is_fitted_but_not_classified():
    net = model()
    with torch.no_grad():
        delta = offsets(net)
        first = net.siren.layout.layer_shapes[0]
        moved = delta.clone()
        moved[:, :first[0] * first[1] + first[0]] += 1.0
        torch.testing.assert_close(net.classifier(moved), net.classifier(delta), rtol=0, atol=0)


def test_the_classification_gradient_reaches_the_fitting_scaled_by_w_cls():
    images = torch.rand(2, 4, 4, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    coords, values = pixel_targets(images)
    draws = draw_pixels(2, 16, 8, 3, torch.Generator().manual_seed(6))
    grads = []
    for w_cls in (1.0, 0.01):
        net = model()
        _, logits = net(coords, values, draws, w_cls)
        logits.logsumexp(1).sum().backward()
        grads.append((net.rates.grad.clone(), net.classifier.embed.weight.grad.clone()))
    torch.testing.assert_close(grads[1][0], 0.01 * grads[0][0])
    torch.testing.assert_close(grads[1][1], grads[0][1])


def test_pixel_draws_are_the_global_generators_for_the_same_seed():
    """The cross-check's premise: the authors draw with the global generator."""
    torch.manual_seed(7)
    expected = [torch.multinomial(torch.ones(3, 20), 10) for _ in range(2)]
    for got, want in zip(draw_pixels(3, 20, 10, 2, torch.Generator().manual_seed(7)), expected):
        assert torch.equal(got, want)
        assert all(len(set(row.tolist())) == 10 for row in got)  # distinct pixels per image


def test_one_cycle_clips_each_group_on_its_own_and_follows_the_cycle():
    net = model()
    opt = OneCycleOptimisation(weight_decay=1e-4, clip_norm=1.0).build(
        [(net.siren.parameters(), 1e-4), ([net.rates], 1e-2), (net.classifier.parameters(), 1e-4)], 100)
    assert [g["lr"] for g in opt.opt.param_groups] == pytest.approx([1e-4 / 25, 1e-2 / 25, 1e-4 / 25])
    assert opt.opt.param_groups[0]["betas"][0] == 0.95  # beta1 cycles against the rate
    opt.step(1e3 * net.rates.sum() + 1e3 * sum(p.sum() for p in net.classifier.parameters()))
    for group in (opt.opt.param_groups[1], opt.opt.param_groups[2]):  # each clipped to norm 1
        norm = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in group["params"]]))
        assert abs(norm.item() - 1.0) < 1e-9
    assert opt.opt.param_groups[1]["lr"] > 1e-2 / 25  # rising towards the peak
    assert opt.opt.param_groups[1]["betas"][0] < 0.95


def test_the_plugin_runs_the_authors_model_on_images_and_on_shapes(dirs, cli, tmp_path):
    """`--param network=authors` trains the authors' model through the harness, evaluating
    `evals` times; on shapes its SIREN maps 3-d points to distances at the UDF queries."""
    from conftest import discover_all, records, tiny_shapenet10
    from wsbench.core.params import resolve
    _, results = dirs
    code, _, err = cli("run", "--method", "mwt", "--dataset", "synthetic", "--profile", "smoke", "--param",
                       "network=authors", "--quiet")
    (rec,) = records(results)
    assert code == 0 and rec["status"] == "ok", rec.get("error", err)
    assert rec["params"]["network"] == "authors" and len(rec["heads"]["phi"]["val_curve"]) == 2  # smoke: 2 evals
    cls = discover_all().methods["mwt"]
    net = cls.authors_network(1, 10, resolve(cls, {"network": "authors"}, "smoke"), in_dim=3)
    assert isinstance(net, EndToEndMWT) and net.siren.layout.widths[0] == 3
    code, _, err = cli("run", "--method", "mwt", *tiny_shapenet10(cli, tmp_path / "src"), "--profile", "smoke",
                       "--param", "network=authors", "--quiet")
    shape = [r for r in records(results) if r["dataset"] != "synthetic"]
    assert code == 0 and len(shape) == 1 and shape[0]["status"] == "ok", err
    # theta of the smoke SIREN 3-8-8 and its rates for 2 inner steps, the output map 8 -> 1 and its scale
    assert shape[0]["num_params"]["theta+rates"] == (1 + 2) * (3 * 8 + 8 + 8 * 8 + 8) + 8 + 1 + 1


def test_queries_of_per_sample_coordinates_are_gathered_per_sample():
    """A shape's UDF queries differ per sample: sample b's query i is coords[b, i]."""
    from wsbench.models.mwt_transformer import at_pixels
    coords, values = torch.randn(2, 5, 3), torch.randn(2, 5, 1)
    idx = torch.tensor([[4, 0], [1, 3]])
    where, target = at_pixels(coords, values, idx)
    torch.testing.assert_close(where, torch.stack([coords[0, [4, 0]], coords[1, [1, 3]]]))
    torch.testing.assert_close(target, torch.stack([values[0, [4, 0]], values[1, [1, 3]]]))
    shared, _ = at_pixels(coords[0], values, idx)
    torch.testing.assert_close(shared, coords[0][idx])
