import math

import pytest
import torch

from wsbench.inr.siren import SirenLayout, pixel_grid, psnr, siren_forward


def test_layout_counts_dwsnet_siren():
    assert SirenLayout((2, 32, 32, 1)).num_params == 1185


def test_init_respects_siren_bounds():
    layout = SirenLayout((2, 32, 32, 1))
    w = layout.init(64, torch.Generator().manual_seed(0))
    (w1, b1), (w2, _), _ = layout.unflatten(w)
    assert w1.abs().max() <= 1 / 2 and w1.abs().max() > 0.45
    bound = math.sqrt(6 / 32) / 30
    assert w2.abs().max() <= bound and w2.abs().max() > 0.9 * bound


def test_dwsnet_init_scheme_starts_low_frequency_with_zero_biases():
    layout = SirenLayout((2, 32, 32, 1))
    w = layout.init(64, torch.Generator().manual_seed(0), scheme="dwsnet")
    (w1, b1), (w2, b2), (w3, b3) = layout.unflatten(w)
    first = math.sqrt(6 / 2) / 30
    assert w1.abs().max() <= first and w1.abs().max() > 0.9 * first
    assert w2.abs().max() <= math.sqrt(6 / 32) / 30
    assert all(b.abs().max() == 0 for b in (b1, b2, b3))
    with pytest.raises(ValueError, match="'lecun'"):
        layout.init(1, scheme="lecun")


def test_batched_forward_matches_one_network_at_a_time():
    layout = SirenLayout((2, 16, 16, 3))
    w = layout.init(5, torch.Generator().manual_seed(1)).double()
    coords = pixel_grid(6, 7).double()
    batched = siren_forward(layout, w, coords)
    assert batched.shape == (5, 42, 3)
    for i in range(5):
        h = coords
        layers = layout.unflatten(w[i:i + 1])
        for k, (wk, bk) in enumerate(layers):
            h = h @ wk[0].T + bk[0]
            if k < len(layers) - 1:
                h = torch.sin(30 * h)
        torch.testing.assert_close(batched[i], h)


def test_pixel_grid_spans_minus_one_to_one_row_major():
    g = pixel_grid(3, 4)
    assert g.shape == (12, 2)
    assert g[0].tolist() == [-1, -1] and g[-1].tolist() == [1, 1]
    assert g[1, 0] == -1 and g[1, 1] > -1  # x varies fastest


def test_psnr_of_known_error():
    target = torch.zeros(2, 10)
    pred = torch.full((2, 10), 0.1)
    torch.testing.assert_close(psnr(pred, target), torch.full((2,), 20.0))
