"""wsbench's faithful NFN classifier (the authors' HNP network, crosscheck/nfn.py) keeps the
symmetry its authors built it for: permuting the hidden neurons of a SIREN, which leaves its
function unchanged, leaves the logits unchanged; moving weights in a way that is not such a
permutation changes them. Small widths, float64, seconds."""
import pytest
import torch

from wsbench.inr.siren import SirenLayout
from wsbench.models.nfn_classifier import NFNClassifier
from wsbench.models.symmetry import permute_hidden

# one and two hidden layers (the first and last NF-layer maps meet), three (a hidden-to-hidden map)
LAYOUTS = [SirenLayout((2, 7, 1)), SirenLayout((2, 8, 8, 1)), SirenLayout((3, 6, 5, 4, 2))]
by_widths = pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: "-".join(map(str, layout.widths)))


def small(layout: SirenLayout) -> NFNClassifier:
    torch.manual_seed(0)
    return NFNClassifier(layout, 10, channels=(8, 8), fourier=4, fourier_scale=1.0, head_hidden=(16,)).double().eval()


def weights(layout: SirenLayout, n: int = 6) -> torch.Tensor:
    return torch.randn(n, layout.num_params, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@by_widths
def test_hidden_neuron_permutations_leave_the_logits_unchanged(layout):
    model, flat = small(layout), weights(layout)
    with torch.no_grad():
        logits = model(flat)
        permuted = model(permute_hidden(layout, flat, torch.Generator().manual_seed(2)))
    assert logits.shape == (len(flat), 10)
    torch.testing.assert_close(permuted, logits, rtol=1e-10, atol=1e-12)


@by_widths
def test_moving_weights_without_their_neurons_changes_the_logits(layout):
    """The negative control: the rows of the first weight and bias permuted alone (their
    neurons' outgoing weights left in place), or the input coordinates swapped (input neurons
    are not permuted by HNP), give a different function and different logits."""
    model, flat = small(layout), weights(layout)
    (w1, b1), *_ = layout.unflatten(flat)
    rows = torch.arange(w1.shape[1]).roll(1)
    broken = flat.clone()
    broken[:, :w1[0].numel() + len(rows)] = torch.cat([w1[:, rows].flatten(1), b1[:, rows]], 1)
    swapped = flat.clone()
    swapped[:, :w1[0].numel()] = w1[:, :, torch.arange(w1.shape[2]).roll(1)].flatten(1)
    with torch.no_grad():
        logits = model(flat)
        for changed in (broken, swapped):
            assert (model(changed) - logits).abs().amax(1).min() > 1e-6
