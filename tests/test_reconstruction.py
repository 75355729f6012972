"""One reconstruction-metric scheme, on the full test split, for every method."""
import numpy as np
import pytest
import torch

import wsbench.core.reconstruction as rec_module
from wsbench.core.contracts import Reconstruction, Split
from wsbench.inr.siren import SirenLayout


def test_psnr_covers_every_test_image_and_adds_the_offset():
    layout = SirenLayout((2, 4, 1))
    x = torch.rand(130, 5, 5, 1)  # more than two batches, a partial last one
    constant = Reconstruction(layout, torch.zeros(130, layout.num_params), offset=0.5)  # outputs 0.5 everywhere
    metrics, figure = rec_module.score(constant, Split(x, torch.zeros(130, dtype=torch.long)), "image",
                                       torch.device("cpu"))
    mse = ((x - 0.5) ** 2).flatten(1).mean(1)
    assert metrics == {"psnr_test": pytest.approx(float((10 * torch.log10(1 / mse)).mean()), rel=1e-5)}
    assert figure == {}
    with pytest.raises(ValueError, match=r"expected test weights of shape \(130, 17\)"):
        rec_module.score(Reconstruction(layout, torch.zeros(129, 17)), Split(x, torch.zeros(130)), "image",
                         torch.device("cpu"))


def test_shapes_score_every_test_shape_from_target_independent_starts(monkeypatch):
    layout = SirenLayout((3, 8, 1))
    n = 70
    clouds = torch.rand(n, 32, 3) * 2 - 1
    split = Split(clouds, torch.arange(n) % 10, torch.rand(n, 20, 3), torch.rand(n, 20, 1) * 0.1)
    starts_seen, pairs = [], []
    real_surface = rec_module.surface_points

    def spy_surface(rec, weights, starts):
        starts_seen.append(starts.clone())
        return real_surface(rec, weights, starts)
    monkeypatch.setattr(rec_module, "surface_points", spy_surface)
    monkeypatch.setattr(rec_module, "chamfer", lambda a, b: pairs.append(b) or 0.25)
    weights = SirenLayout((3, 8, 1)).init(n, torch.Generator().manual_seed(0))
    metrics, figure = rec_module.score(Reconstruction(layout, weights), split, "pointcloud", torch.device("cpu"))
    assert len(pairs) == n and metrics["chamfer_test"] == 0.25  # every test shape, not a subset
    assert all(np.array_equal(p, c) for p, c in zip(pairs, clouds.numpy()))
    torch.testing.assert_close(starts_seen[0], rec_module.chamfer_starts())  # the same fixed starts for all
    assert all(torch.equal(s, starts_seen[0]) for s in starts_seen)
    starts = rec_module.chamfer_starts()
    assert starts.shape == (rec_module.CHAMFER_STARTS, 3) and starts.abs().max() <= 1.1
    assert 0 < metrics["udf_l1_test"] < 10
    assert figure["labels"].tolist() == list(range(8)) and figure["inputs"].shape == (8, 32, 3)
    assert sorted(k for k in figure if k.startswith("recovered_")) == [f"recovered_{i}" for i in range(8)]
