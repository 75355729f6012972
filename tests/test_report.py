import json

import numpy as np
import pytest

from conftest import records

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
    """A row shows `authors' model ✓` only at the adapter version (and parameter values) the
    cross-check covers."""
    from wsbench.report.authors import cell, covers, load_crosschecks, section
    doc = {"method": "scalegmn", "equal": True, "adapter_version": 3, "max_logit_relative_error": 6e-16,
           "max_loss_difference": 4e-16, "steps": 20, "samples_per_second": {"authors": 3.1, "wsbench": 6.0},
           "authors": {"commit": "9cffd4d4318a"}, "configuration": {"file": "configs/x.yml"}}
    assert cell(doc, 3, {}) == "authors' model ✓ (3.1 vs 6.0 samples/s)"
    assert cell(doc, 2, {}).startswith("not this row's network")
    assert cell({**doc, "equal": False, "max_logit_relative_error": 0.3}, 3, {}).startswith("differs: logits 3.0e-01")
    assert cell(None, 3, {}) == ""
    assert covers(doc, 3, {}) and not covers(doc, 2, {}) and not covers({**doc, "equal": False}, 3, {})  # the dagger
    chosen = {**doc, "adapter_params": {"network": "authors"}}  # one of the method's networks is the authors'
    assert covers(chosen, 3, {"network": "authors", "lr": 1e-3}) and not covers(chosen, 3, {"network": "wsbench"})
    assert "the rows of version 3 with network=authors use it" in section({"scalegmn": chosen})
    assert "warm-up" not in section({"scalegmn": doc})
    assert "losses within 4.0e-16 at the published warm-up and at 10 steps" in section(
        {"scalegmn": {**doc, "short_warmup": {"warmup_steps": 10}}})
    assert "network=wsbench here, checked at network=authors" in cell(chosen, 3, {"network": "wsbench"})
    scaled = {**doc, "adapter_params": {"network": "authors", "input_scale": "raw"}}  # the authors' network, not input
    assert cell(scaled, 3, {"network": "authors", "input_scale": "std"}).startswith(
        "not the authors' model: input_scale=std here, checked at input_scale=raw network=authors (3.1 vs")
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


def test_matrix_rows_are_methods_with_their_variants_under_them_and_baselines_apart():
    """The profile's configuration is the method's row; a head or a parameter set apart from the
    profile is an indented sub-row; baselines sit below; the best weight-space cell is bold."""
    from wsbench.report.matrix import build, render_text, variants
    defaults = lambda method, profile, dataset, params: {"a": 1, "encoder": False}  # noqa: E731
    recs = [rec(s, 0.90 + s / 100, method="hyperinr", params={"a": 1, "encoder": False}, dataset="mnist")
            for s in range(3)]
    recs += [rec(s, 0.95, method="hyperinr", params={"a": 1, "encoder": True}, dataset="mnist") for s in range(2)]
    recs += [rec(0, 0.80, method="hyperinr", params={"a": 1, "encoder": False}, dataset="digits")]
    recs += [{**rec(s, 0.99, method="cnn-pixels", dataset="mnist"), "weight_space": False} for s in range(2)]
    matrix = build(aggregate(recs), variants(recs, defaults))
    lines = render_text(matrix, "markdown").splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["method", "digits", "mnist"]
    labels = [line.split("|")[1].strip() for line in lines[2:] if line.startswith("|")]
    assert labels == ["hyperinr, head w", "&emsp;↳ head z", "&emsp;↳ encoder=True, head w",
                      "&emsp;↳ encoder=True, head z", "*baselines on the signal (not weight-space)*",
                      "cnn-pixels, head w", "&emsp;↳ head z"]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")[1:]] for line in lines[2:] if line.startswith("|")]
    se = 100 * np.std([0.90, 0.91, 0.92], ddof=1) / np.sqrt(3)
    assert cells[1] == ["**80.00 ± – (1)**", f"91.00 ± {se:.2f} (3) [paper 97.89]"]  # head z; bold: best of digits
    assert cells[3] == ["—", "**95.00 ± 0.00 (2)**"]  # encoder=True, head z: the best weight-space cell of mnist
    assert cells[6] == ["—", "99.00 ± 0.00 (2)"]  # a baseline is never marked best
    assert "(n seeds)" in lines[-1] and "Bold" in lines[-1]


def test_matrix_marks_the_configuration_that_runs_the_authors_model():
    """Where one of a method's networks is the authors' (the cross-check's adapter_params), only
    its rows carry the dagger, a sub-row as well as a method's row."""
    from wsbench.report.matrix import build, render_text, variants
    profile = {"network": "wsbench"}
    recs = [rec(s, 0.8, method="nfn", params=dict(profile)) for s in range(2)]
    recs += [rec(s, 0.7, method="nfn", params={"network": "authors"}) for s in range(2)]
    doc = {"equal": True, "adapter_version": 1, "adapter_params": {"network": "authors"}}
    labels = [line.split("|")[1].strip() for line in render_text(
        build(aggregate(recs), variants(recs, lambda *_: profile), {"nfn": doc}), "markdown").splitlines()[2:]
        if line.startswith("|")]
    assert labels == ["nfn, head w", "&emsp;↳ head z", "&emsp;↳ network=authors, head w †",
                      "&emsp;↳ network=authors, head z †"]


def test_a_row_is_not_named_by_a_parameter_its_network_ignores(registry):
    """NFN's wsbench network has no Fourier scale: its digits row, run at the legacy scale where
    the profile sets another for the authors' network, is named by what it changes, not by it."""
    from wsbench.core.params import resolve
    from wsbench.report.matrix import profile_defaults, variants
    quick = resolve(registry.method("nfn"), {}, "quick", "digits", "image")
    wsbench = {**quick, "network": "wsbench", "layers": 4, "fourier_scale": 10.0}
    authors = {**quick, "fourier_scale": 10.0}  # the authors' network at another scale: named by it
    recs = [rec(0, 0.5, method="nfn", params=p, dataset="digits") for p in (quick, wsbench, authors)]
    names = sorted(variants(recs, profile_defaults(registry)).values())
    assert names == ["", "fourier_scale=10.0", "layers=4 network=wsbench"]


def test_a_configuration_run_on_every_data_set_is_one_matrix_row(registry):
    """ScaleGMN's wsbench network runs 40 epochs everywhere; the profile sets 40 on digits only,
    yet its digits cell sits in the same sub-row as the others, and the profile's own row
    keeps its digits cell."""
    from wsbench.core.params import resolve
    from wsbench.report.matrix import profile_defaults, variants
    recs = []
    for dataset in ("digits", "mnist"):
        quick = resolve(registry.method("scalegmn"), {}, "quick", dataset, "image")
        recs += [rec(0, 0.5, method="scalegmn", params=quick, dataset=dataset),
                 rec(0, 0.6, method="scalegmn", params={**quick, "network": "wsbench", "epochs": 40}, dataset=dataset)]
    assert recs[0]["params"]["epochs"] == 40 and recs[2]["params"]["epochs"] == 7  # what the profile sets
    names = [variants(recs, profile_defaults(registry))[k] for k in sorted(variants(recs, profile_defaults(registry)))]
    assert sorted(names) == ["", "", "epochs=40 network=wsbench", "epochs=40 network=wsbench"]
    sole = [r for r in recs if r["dataset"] == "digits"]  # without MNIST's row nothing wider names it
    assert sorted(variants(sole, profile_defaults(registry)).values()) == ["", "network=wsbench"]


def test_table_labels_name_no_parameter_where_it_has_no_effect():
    """ScaleGMN's input scale acts only on the authors' network: the wsbench network's row is
    not named by it, and the authors' rows are, where they differ in it."""
    from wsbench.report.tables import config_labels
    base = {"network": "authors", "input_scale": "std"}
    wsbench = {**rec(0, 0.9, params={"network": "wsbench", "input_scale": "raw"}), "inert_params": ["input_scale"]}
    std = {**rec(0, 0.8, params=base), "inert_params": []}
    assert config_labels([wsbench, std]) == ["network=wsbench", "network=authors"]
    raw = {**rec(0, 0.7, params={**base, "input_scale": "raw"}), "inert_params": []}
    assert config_labels([wsbench, std, raw]) == ["network=wsbench", "input_scale=std network=authors",
                                                  "input_scale=raw network=authors"]
    assert config_labels([rec(0, 0.9, params=base), rec(0, 0.9, params={**base, "input_scale": "raw"})]) == \
        ["input_scale=std", "input_scale=raw"]  # records of an unknown plugin: every difference names


def test_report_records_mark_the_parameters_without_effect(registry, tmp_path, monkeypatch):
    import wsbench.core.records
    from wsbench.cli import report_records
    older = rec(0, 0.9, method="scalegmn", params={"network": "wsbench"})  # before input_scale existed
    monkeypatch.setattr(wsbench.core.records, "load_records", lambda results: [older])
    [loaded] = report_records(tmp_path, registry)
    assert loaded["params"]["input_scale"] == "raw"  # its legacy value, filled in
    assert "input_scale" in loaded["inert_params"] and "network" not in loaded["inert_params"]


def test_a_parameter_that_takes_effect_under_no_declared_setting_is_refused():
    from wsbench.core.contracts import Method
    from wsbench.core.params import Param
    with pytest.raises(TypeError, match="'scale' takes effect when net='theirs'"):
        type("Bad", (Method,), {"params": {"net": Param("ours", choices=("ours", "mine")),
                                           "scale": Param(1.0, when=("net", "theirs"))}})


def test_matrix_shows_the_published_figure_and_names_another_profile():
    from wsbench.report.matrix import build, render_text, variants
    zoo = {"inr_init_scheme": "dwsnet", "inr_offset": 0.5}
    recs = [rec(s, 0.84, method="dwsnet", params=zoo, dataset="mnist") for s in range(2)]
    recs += [{**rec(2, 0.5, method="dwsnet", params=zoo, dataset="mnist"), "profile": "smoke"}]
    for r in recs:
        r["heads"] = {"weights": r["heads"]["z"]}
    text = render_text(build(aggregate(recs), variants(recs, lambda *_: zoo)), "plain")
    assert "*84.00 ± 0.00 (2) [paper 85.71]" in text  # plain text marks the best with *
    assert "\n↳ profile smoke " in text and "50.00 ± – (1) [paper 85.71]" in text


def test_columns_with_one_value_everywhere_are_said_once():
    from wsbench.report.tables import display_frame, split_constant
    table = display_frame(aggregate([rec(s, 0.9, method=m) for m in ("m", "n") for s in range(2)]))
    kept, constant = split_constant(table)
    assert constant["threads"] == "2" and constant["profile"] == "quick" and constant["dataset"] == "d"
    assert "threads" not in kept and "method" in kept and "head" in kept  # heads z and w differ
    assert split_constant(table.iloc[:1])[1] == {}  # one row: nothing is constant across rows


def mine_plugin(folder):
    """The template method as a user's plugin named `mine`."""
    from conftest import ROOT
    folder.mkdir()
    template = (ROOT / "methods" / "template_method.py").read_text()
    (folder / "mine.py").write_text(template.replace('name = "template"', 'name = "mine"'))
    return str(folder)


def test_a_users_rows_stand_beside_the_reference_with_paired_comparisons(dirs, cli, tmp_path, monkeypatch):
    """The user's template runs on digits (smoke, 2 seeds) placed in a reference of another
    method's runs of the same seeds: tagged (yours) in the matrix and the table, and compared
    with the reference's runs by McNemar's test on the kept predictions, the reference not rerun."""
    from wsbench.report.stats import mcnemar_exact
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    plugins = mine_plugin(tmp_path / "plugins")
    mine, reference = tmp_path / "mine", tmp_path / "reference"
    run = ("--dataset", "digits", "--seeds", "2", "--profile", "smoke", "--quiet")
    assert cli("--results", str(reference), "run", "--method", "logreg-pixels", *run)[0] == 0
    assert cli("--plugins", plugins, "--results", str(mine), "run", "--method", "mine", *run)[0] == 0
    before = sorted(p.stat().st_mtime_ns for p in (reference / "runs").glob("*.json"))
    code, out, err = cli("--plugins", plugins, "--results", str(mine), "report", "--reference", str(reference))
    assert code == 0, err
    assert out.startswith("# wsbench mine table beside the reference")
    matrix = out.split("## Test accuracy by method and data set")[1].split("\n## digits")[0]
    assert "| mine (yours), profile smoke " in matrix and "| logreg-pixels, profile smoke " in matrix
    section = out.split("\n## digits\n")[1]
    assert "| mine (yours) " in section and "| logreg-pixels " in section
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.split("Your rows against")[1]
            .splitlines() if line.startswith("| mine")]
    assert len(rows) == 1
    name, other, seeds, b, c, p, _, _ = rows[0]
    assert (name, other, seeds) == ("mine head pixels (yours)", "logreg-pixels head pixels", "0, 1")
    expected_b = expected_c = 0
    for seed in (0, 1):
        (r_mine,) = [r for r in records(mine) if r["seed"] == seed]
        (r_ref,) = [r for r in records(reference) if r["seed"] == seed]
        with np.load(mine / r_mine["predictions"]["file"]) as pm, np.load(reference / r_ref["predictions"]["file"]) \
                as pr, np.load(reference / r_ref["labels"]["file"]) as y:
            right_mine, right_ref = pm["test:pixels"] == y["test"], pr["test:pixels"] == y["test"]
        expected_b += int(np.sum(right_mine & ~right_ref))
        expected_c += int(np.sum(~right_mine & right_ref))
    assert (int(b), int(c)) == (expected_b, expected_c)
    assert float(p) == pytest.approx(mcnemar_exact(expected_b, expected_c), rel=1e-2)
    assert sorted(p.stat().st_mtime_ns for p in (reference / "runs").glob("*.json")) == before  # not rerun
    page = tmp_path / "page"
    code, out, err = cli("--plugins", plugins, "--results", str(mine), "report", "--reference", str(reference),
                         "--html", str(page))
    assert code == 0, err
    text = (page / "index.html").read_text()
    assert "mine (yours)" in text and "Your rows against the reference" in text
    assert all((page / "runs" / f"{r['run_id']}.json").is_file() for r in records(mine) + records(reference))
    code, _, err = cli("--results", str(mine), "report", "--reference", str(tmp_path / "nowhere"))
    assert code == 2 and "--reference" in err and "nowhere" in err
