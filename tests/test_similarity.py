"""Functional similarity on constructed cases: debiased CKA and the hypernetwork score."""
import numpy as np
import pytest

from wsbench.report.similarity import debiased_cka, hypernetwork_scores


@pytest.fixture(scope="module")
def cases():
    """Class clusters in 32 dimensions (validation and test), the same embedding again, a
    random rotation of it, and independent noise (with the same labels)."""
    rng = np.random.default_rng(0)
    n, d, classes = 600, 32, 5
    centres = rng.normal(size=(classes, d)) * 0.5
    y = {s: rng.integers(0, classes, n) for s in ("val", "test")}
    a = {s: centres[y[s]] + rng.normal(size=(n, d)) for s in y}
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    noise = {s: rng.normal(size=(n, d)) for s in y}
    embeddings = {"a": a, "copy": {s: a[s].copy() for s in y}, "rotated": {s: a[s] @ rotation for s in y},
                  "noise": noise}
    split = lambda s: {name: (e[s], y[s]) for name, e in embeddings.items()}  # noqa: E731
    return split("val"), split("test"), classes


def test_debiased_cka_is_one_for_a_copy_and_a_rotation_and_near_zero_for_independent_features(cases):
    _, test, _ = cases
    a = test["a"][0]
    assert debiased_cka(a, a.copy()) == pytest.approx(1.0)
    assert debiased_cka(a, test["rotated"][0]) == pytest.approx(1.0)
    assert abs(debiased_cka(a, test["noise"][0])) < 0.02
    rng = np.random.default_rng(1)  # wide features, few samples: where plain linear CKA is far from 0
    x, z = rng.normal(size=(50, 200)), rng.normal(size=(50, 200))
    gram = lambda m: (m - m.mean(0)) @ (m - m.mean(0)).T  # noqa: E731
    plain = np.sum(gram(x) * gram(z)) / np.sqrt(np.sum(gram(x) ** 2) * np.sum(gram(z) ** 2))
    assert plain > 0.5 and abs(debiased_cka(x, z)) < 0.1


def test_hypernetwork_score_is_one_for_a_copy_and_a_rotation_and_near_zero_for_noise(cases):
    val, test, classes = cases
    scores = hypernetwork_scores(val, test, classes, restarts=2)
    names = list(val)
    s = dict(zip(names, scores.mean))
    i = {n: k for k, n in enumerate(names)}
    assert np.allclose(scores.mean.diagonal(), 1.0)
    assert s["a"][i["copy"]] > 0.95 and s["copy"][i["a"]] > 0.95
    assert s["a"][i["rotated"]] > 0.95  # the third-moment sign rule projects a rotation onto the same axes
    assert abs(s["a"][i["noise"]]) < 0.15 and abs(s["noise"][i["a"]]) < 0.15
    assert (scores.own_drop > 0).all()
    again = hypernetwork_scores(val, test, classes, restarts=2)
    assert np.array_equal(again.mean, scores.mean)  # reproducible for a given seed
    other = hypernetwork_scores(val, test, classes, restarts=2, seed=5)
    assert not np.array_equal(other.mean, scores.mean)


def test_similarity_command_compares_the_heads_of_one_seed(dirs, cli, tmp_path):
    _, results = dirs
    for noise in ("0.05", "0.6"):
        assert cli("run", "--method", "cnn-pixels", "--dataset", "synthetic", "--profile", "smoke", "--quiet",
                   "--param", f"dropout={noise}")[0] == 0
    code, out, err = cli("similarity", "--dataset", "synthetic", "--restarts", "1")
    assert code == 0, err
    assert "Debiased linear CKA" in out and "Hypernetwork score" in out
    assert "cnn-pixels [dropout=0.05] head pixels" in out and "cnn-pixels [dropout=0.6] head pixels" in out
    folder = results / "similarity" / "synthetic-seed0"
    for name in ("cka.csv", "hypernetwork.csv", "hypernetwork-spread.csv", "cka.png", "hypernetwork.png"):
        assert f"wrote {folder / name}" in out and (folder / name).stat().st_size > 0
    code, _, err = cli("similarity", "--dataset", "synthetic", "--seed", "3")
    assert code == 2 and "no ok run records of synthetic seed 3" in err and "Traceback" not in err
