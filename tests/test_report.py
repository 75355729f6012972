import json

import numpy as np
import pytest

from wsbench.core.errors import UserError
from wsbench.report.tables import aggregate, render


def rec(seed, acc, method="m", params=None, status="ok", dataset="d"):
    r = {"method": method, "dataset": dataset, "seed": seed, "profile": "quick", "params": params or {"a": 1},
         "data_params": {}, "protocol": 2, "versions": {"method": 1, "dataset": 1}, "tune": False,
         "status": status, "cost": {"pipeline_wall_s": 10.0 + seed, "pipeline_cpu_s": 20.0, "threads": 2,
                                    "peak_rss_mb": 100.0 + seed, "shared": {}},
         "metrics": {"psnr_test": 20.0}, "provenance": {"code": {"commit": "abcdef123456", "dirty": False}}}
    if status == "ok":
        r["heads"] = {"z": {"test_acc": acc, "val_acc": acc + 0.01}, "w": {"test_acc": acc / 2, "val_acc": 0.5}}
    return r


def test_mean_and_standard_error_over_seeds():
    accs = [0.90, 0.92, 0.97]
    agg = aggregate([rec(s, a) for s, a in enumerate(accs)])
    z = agg[agg["head"] == "z"].iloc[0]
    assert z.n == 3
    assert z.test_mean == pytest.approx(np.mean(accs))
    assert z.test_se == pytest.approx(np.std(accs, ddof=1) / np.sqrt(3))
    assert z.pipeline_s == pytest.approx(11.0) and z.peak_mb == 102.0 and z.commits == "abcdef12"
    table = render([rec(s, a) for s, a in enumerate(accs)])
    assert f"{100 * np.mean(accs):.2f} ± {100 * np.std(accs, ddof=1) / np.sqrt(3):.2f}" in table


def test_configurations_are_separate_rows_and_labelled():
    recs = [rec(0, 0.9, params={"a": 1, "b": 2}), rec(1, 0.8, params={"a": 1, "b": 2}),
            rec(0, 0.5, params={"a": 1, "b": 3})]
    agg = aggregate(recs)
    assert sorted(agg.config.unique()) == ["b=2", "b=3"]
    assert agg[(agg.config == "b=3") & (agg["head"] == "z")].n.item() == 1
    assert "b=3" in render(recs)


def test_failed_runs_are_counted_not_averaged():
    agg = aggregate([rec(0, 0.9), rec(1, 0.0, status="failed")])
    z = agg[agg["head"] == "z"].iloc[0]
    assert (z.n, z.failed, z.test_mean) == (1, 1, pytest.approx(0.9))


def test_a_configuration_with_only_failures_still_shows():
    agg = aggregate([rec(0, 0.9), rec(0, 0.0, method="other", status="failed")])
    other = agg[agg.method == "other"].iloc[0]
    assert other.failed == 1 and other.n == 0
    table = render([rec(0, 0.9), rec(0, 0.0, method="other", status="failed")])
    assert "nan" not in table and "—" in table  # what a row lacks shows as missing


def test_reference_baselines_are_marked_as_not_weight_space():
    baseline = {**rec(0, 0.95, method="cnn-pixels"), "weight_space": False}
    rows = render([rec(0, 0.9), baseline], "csv").splitlines()
    assert rows[0].startswith("dataset,method,kind,")
    assert [r.split(",")[2] for r in rows[1:] if ",cnn-pixels," in r] == ["baseline (not weight-space)"] * 2
    assert all(r.split(",")[2] == "" for r in rows[1:] if ",m," in r)
    assert ",kind," not in render([rec(0, 0.9)], "csv")  # no baseline, no column


def test_formats():
    recs = [rec(0, 0.9), rec(1, 0.8)]
    assert "\\begin{tabular}" in render(recs, "latex")
    csv = render(recs, "csv").splitlines()
    assert csv[0].startswith("dataset,method,profile,head,test acc % (mean ± SE),n")
    with pytest.raises(UserError, match="--format 'html'"):
        render(recs, "html")
    with pytest.raises(UserError, match="no run records"):
        render([])


def test_published_reference_difference_and_what_differs_stand_beside_matching_rows():
    import math
    zoo = {"inr_init_scheme": "dwsnet", "inr_offset": 0.5, "inr_steps": 400, "inr_train_limit": 20000,
           "epochs": 15}
    accs = [0.84, 0.85, 0.86]
    recs = [rec(s, a, method="dwsnet", params=zoo, dataset="mnist") for s, a in enumerate(accs)]
    for r in recs:
        r["heads"] = {"weights": r["heads"]["z"]}
    table = render(recs, "csv")
    row = table.splitlines()[1]
    assert "85.71 ± 0.57" in row and "Navon et al. 2023" in row
    se = 100 * np.std(accs, ddof=1) / np.sqrt(3)
    diff = 100 * np.mean(accs) - 85.71
    assert f"{diff:+.2f} ({diff / math.hypot(se, 0.57):+.1f} σ)" in row  # the paper gives no seed count
    assert "inr_steps 400 (paper 1000); inr_train_limit 20000 (paper all); epochs 15 (paper 100)" in row
    nfn = rec(0, 0.7, method="nfn", dataset="mnist", params={**zoo, "inr_init_scheme": "siren", "mode": "np"})
    nfn["heads"] = {"weights": nfn["heads"]["z"]}
    standard = render([nfn], "csv")
    assert "INR set standard SIRENs, paper dwsnet-set" in standard and "78.50" in standard
    assert "+-8.50" not in standard and "-8.50" in standard  # n = 1: the plain difference
    assert "published" not in render([rec(0, 0.9)], "csv")  # no reference: no columns


def test_every_reference_names_a_shipped_method_head_and_variant(registry, tmp_path):
    from wsbench.report.references import load_references
    for ref in load_references():
        if "no wsbench adapter" in ref["source"]:
            continue
        cls = registry.method(ref["method"])
        assert set(ref.get("params") or {}) <= set(cls.params), ref
        assert set(ref.get("budget") or {}) <= set(cls.params), ref
        assert ref["dataset"] in registry.datasets, ref
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {method: m, head: h, dataset: d, protocol: mine, value: 1, source: s}\n")
    with pytest.raises(UserError, match="entry 1: protocol one of dwsnet-set, nfn-set, own"):
        load_references(bad)


def test_authors_code_column_says_whether_the_row_runs_the_checked_model(tmp_path):
    """A row shows `authors' model ✓` only at the adapter version the cross-check covers."""
    from wsbench.report.authors import cell, load_crosschecks, section
    doc = {"method": "scalegmn", "equal": True, "adapter_version": 3, "max_logit_relative_error": 6e-16,
           "max_loss_difference": 4e-16, "steps": 20, "samples_per_second": {"authors": 3.1, "wsbench": 6.0},
           "authors": {"commit": "9cffd4d4318a"}, "configuration": {"file": "configs/x.yml"}}
    assert cell(doc, 3) == "authors' model ✓ (3.1 vs 6.0 samples/s)"
    assert cell(doc, 2).startswith("not this row's network")
    assert cell({**doc, "equal": False, "max_logit_relative_error": 0.3}, 3).startswith("differs: logits 3.0e-01")
    assert cell(None, 3) == ""
    (tmp_path / "crosscheck").mkdir()
    (tmp_path / "crosscheck" / "scalegmn.json").write_text(json.dumps(doc))
    assert load_crosschecks(tmp_path) == {"scalegmn": doc}
    assert "the rows of version 3 use it" in section({"scalegmn": doc})
    (tmp_path / "crosscheck" / "broken.json").write_text("{")
    with pytest.raises(UserError, match="broken.json: not a cross-check result"):
        load_crosschecks(tmp_path)


def test_a_figure_is_a_full_size_palette_png_of_at_most_150_kb(tmp_path):
    """The heaviest figure the reports draw, a PCA scatter of 10000 test samples in 20
    classes, stays small enough to commit with the results."""
    from PIL import Image

    from wsbench.report.figures import latent_pca
    rng = np.random.default_rng(0)
    y = rng.integers(0, 20, 10_000)
    path = latent_pca(rng.normal(size=(10_000, 8)) + 0.3 * y[:, None], y, "10000 samples", tmp_path / "pca.png")
    assert path.stat().st_size <= 150_000
    with Image.open(path) as image:
        assert image.mode == "P" and image.size[0] > 600  # a palette image at 120 dpi, not a thumbnail
        assert len(image.getcolors()) > 32  # the classes' colours and their blends survive
