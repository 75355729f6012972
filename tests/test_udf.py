import numpy as np
import torch

from wsbench.core.contracts import DataSplits, Split
from wsbench.core.reconstruction import chamfer
from wsbench.data.udf import CLAMP, attach_udf, udf_bank, udf_queries, unsigned_distance


def brute_force(points, queries):
    return np.sqrt(((queries[:, None, :] - points[None, :, :]) ** 2).sum(-1)).min(1)


def test_udf_targets_match_brute_force_distances():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 3)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)  # a sphere's surface
    queries, dist = udf_queries(points, 100, rng)
    assert queries.shape == (500, 3) and dist.shape == (500,)
    np.testing.assert_allclose(dist, np.minimum(brute_force(points, queries), CLAMP), rtol=1e-5, atol=1e-6)
    assert (dist[:100] == 0).all()            # the surface queries are cloud points
    assert dist[400:].max() == np.float32(CLAMP)  # uniform queries reach the clamp
    assert np.median(dist[100:200]) < np.median(dist[300:400])  # sigma 0.003 nearer than 0.1


def test_bank_is_per_shape_deterministic():
    rng = np.random.default_rng(1)
    clouds = rng.uniform(-1, 1, (3, 64, 3)).astype(np.float32)
    c1, v1 = udf_bank(clouds, 10, seed=7)
    c2, v2 = udf_bank(clouds[1:], 10, seed=7)
    assert c1.shape == (3, 50, 3) and v1.shape == (3, 50, 1)
    assert not np.array_equal(c1[1], c2[0])  # each shape's stream is keyed by its index
    c3, _ = udf_bank(clouds, 10, seed=7)
    assert np.array_equal(c1, c3)
    np.testing.assert_allclose(v1[2, :, 0], unsigned_distance(clouds[2], c1[2]))


def test_bank_is_cached_under_the_data_root(tmp_path):
    rng = np.random.default_rng(2)
    def split():
        return Split(torch.from_numpy(rng.uniform(-1, 1, (4, 32, 3)).astype(np.float32)), torch.zeros(4, dtype=torch.long))
    data = DataSplits("toy", "pointcloud", 1, split(), split(), split())
    attach_udf(data, tmp_path, 8, seed=0)
    files = sorted(tmp_path.glob("udf-*.npz"))
    assert len(files) == 3 and data.train.coords.shape == (4, 40, 3)
    first = data.test.values.clone()
    mtimes = [f.stat().st_mtime_ns for f in files]
    attach_udf(data, tmp_path, 8, seed=0)
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert torch.equal(first, data.test.values)


def test_chamfer_is_zero_for_identical_clouds_and_grows_with_offset():
    a = np.random.default_rng(3).normal(size=(100, 3))
    assert chamfer(a, a) == 0
    assert 0.19 < chamfer(a, a + [0.1, 0, 0]) <= 0.2 + 1e-9
