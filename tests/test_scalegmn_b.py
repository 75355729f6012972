"""ScaleGMN-B as the authors configure it (wsbench.models.scalegmn_b) and the phase fold their
pipeline applies first (wsbench.models.canonical): the symmetries they have, without the
authors' code (crosscheck/scalegmn.py compares both with it)."""
import math

import pytest
import torch

from wsbench.inr.siren import SirenLayout, pixel_grid, siren_forward
from wsbench.models.canonical import fold_phases
from wsbench.models.scalegmn_b import ScaleGMNB
from wsbench.models.symmetry import flip_signs, permute_hidden

LAYOUTS = [SirenLayout((2, 32, 32, 1)), SirenLayout((3, 8, 8, 8, 2)), SirenLayout((2, 16, 1))]
by_widths = pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: "-".join(map(str, layout.widths)))


@pytest.fixture(autouse=True)
def float64_one_thread():
    """Exact symmetries are checked to float64 rounding; small models run best on one thread."""
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


def wide_biases(layout: SirenLayout, n: int, seed: int = 0) -> torch.Tensor:
    """SIRENs whose hidden biases spread over [-4π, 4π], where every branch of the fold acts;
    output biases stay within [-π/2, π/2]."""
    gen = torch.Generator().manual_seed(seed)
    flat = layout.init(n, gen)
    layers = layout.unflatten(flat)
    for _, b in layers[:-1]:
        b.copy_((torch.rand(b.shape, generator=gen) * 2 - 1) * 4 * math.pi)
    return flat


@by_widths
def test_fold_leaves_siren_sized_biases_alone(layout):
    flat = layout.init(8, torch.Generator().manual_seed(0))
    assert all(b.abs().max() <= math.pi / 2 for _, b in layout.unflatten(flat))
    assert torch.equal(fold_phases(layout, flat), flat)


def test_fold_moves_biases_as_the_authors_steps_do():
    layout = SirenLayout((1, 5, 1))
    flat = torch.zeros(1, layout.num_params)
    (w, b), _ = layout.unflatten(flat)
    w[0, :, 0] = 1.0
    b[0] = torch.tensor([1.0, 2.0, 4.0, -2.0, 7.0])
    (w, b), _ = layout.unflatten(fold_phases(layout, flat))
    # 2 in (π/2, π]: 2 - π, negated; 4 in (π, 2π]: 4 + π, negated; -2: sign kept, 2 - π negated;
    # 7 > 2π: 7 - 2π, which is small, left as it is
    expected = torch.tensor([1.0, math.pi - 2, -(4 + math.pi), 2 - math.pi, 7 - 2 * math.pi])
    torch.testing.assert_close(b[0], expected, rtol=0, atol=1e-15)
    assert w[0, :, 0].tolist() == [1.0, -1.0, -1.0, -1.0, 1.0]


@by_widths
def test_fold_keeps_the_function_of_a_phase_one_sine_network(layout):
    """It reads b as the phase of sin(w.x + b), so it keeps a sine network with w0 = 1."""
    layout = SirenLayout(layout.widths, w0=1.0)
    flat = wide_biases(layout, 4)
    folded = fold_phases(layout, flat)
    assert not torch.equal(folded, flat)
    coords = pixel_grid(7, 7) if layout.widths[0] == 2 else torch.rand(49, layout.widths[0]) * 2 - 1
    torch.testing.assert_close(siren_forward(layout, folded, coords), siren_forward(layout, flat, coords),
                               rtol=0, atol=1e-9)


@by_widths
def test_fold_commutes_with_hidden_sign_flips(layout):
    flat = wide_biases(layout, 8)
    flipped_then_folded = fold_phases(layout, flip_signs(layout, flat, torch.Generator().manual_seed(3)))
    folded_then_flipped = flip_signs(layout, fold_phases(layout, flat), torch.Generator().manual_seed(3))
    assert torch.equal(flipped_then_folded, folded_then_flipped)


@by_widths
def test_model_is_invariant_to_hidden_permutations_and_sign_flips(layout):
    torch.manual_seed(0)
    model = ScaleGMNB(layout, 5, hidden=16).eval()
    flat = wide_biases(layout, 6)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        logits = model(flat)
        for moved in (flip_signs(layout, flat, gen), permute_hidden(layout, flat, gen),
                      flip_signs(layout, permute_hidden(layout, flat, gen), gen)):
            torch.testing.assert_close(model(moved), logits, rtol=0, atol=1e-12)


def test_model_tells_input_coordinates_and_output_signs_apart():
    """Input and output neurons keep their identity and sign: they are no symmetry of a SIREN."""
    layout = LAYOUTS[0]
    torch.manual_seed(0)
    model = ScaleGMNB(layout, 5, hidden=16).eval()
    flat = layout.init(4, torch.Generator().manual_seed(0))
    (w1, _), *_, (w_last, b_last) = layout.unflatten(flat)
    swapped, negated = flat.clone(), flat.clone()
    swapped[:, :w1[0].numel()] = w1.flip(2).flatten(1)
    negated[:, -(w_last[0].numel() + b_last.shape[1]):] *= -1
    with torch.no_grad():
        logits = model(flat)
        assert (model(swapped) - logits).abs().max() > 1e-6
        assert (model(negated) - logits).abs().max() > 1e-6


def test_model_needs_a_hidden_layer():
    with pytest.raises(ValueError, match="hidden layer"):
        ScaleGMNB(SirenLayout((2, 1)), 5)


def test_training_loop_takes_features_before_the_head_output():
    """train_classifier's embeddings are what the model's last nn.Linear receives: the head's."""
    from wsbench.train.heads import last_linear
    model = ScaleGMNB(LAYOUTS[0], 5, hidden=8)
    assert last_linear(model) is model.head[-1]


def test_phase_folded_input_divided_after_the_fold_keeps_both_symmetries():
    """input_scale=std: the fold reads raw biases, then each tensor is divided by a positive
    per-tensor divisor, so the network sees fold(w) / std and stays sign and permutation invariant."""
    from wsbench.models.canonical import PhaseFolded
    layout = LAYOUTS[0]
    torch.manual_seed(0)
    model = PhaseFolded(layout, ScaleGMNB(layout, 5, hidden=16)).eval()
    flat = wide_biases(layout, 6)
    divisor = torch.cat([torch.full((t[0].numel(),), 0.01 * (k + 1))  # one value per weight tensor
                         for k, t in enumerate(t for layer in layout.unflatten(flat[:1]) for t in layer)])
    assert "divisor" not in model.state_dict()  # raw input: the authors' model, the same state
    with torch.no_grad():
        raw_logits = model(flat)
        model.divide_by(divisor)
        logits = model(flat)
        torch.testing.assert_close(logits, model.net(fold_phases(layout, flat) / divisor), rtol=0, atol=0)
        assert (logits - raw_logits).abs().max() > 1e-6
        gen = torch.Generator().manual_seed(1)
        for moved in (flip_signs(layout, flat, gen), permute_hidden(layout, flat, gen)):
            torch.testing.assert_close(model(moved), logits, rtol=0, atol=1e-12)
    assert torch.equal(model.state_dict()["divisor"], divisor)  # saved with checkpoints
    with pytest.raises(ValueError, match="positive"):
        model.divide_by(-divisor)
