"""The harness enforces the protocol: held-out labels stay with it, predictions are checked
and kept, every number recomputes, identities are complete, costs are per run."""
import json
import shutil

import numpy as np
import pytest

from conftest import ROOT, discover_all, records

from wsbench.core.contracts import HeadResult
from wsbench.core.errors import ProtocolViolation
from wsbench.core.protocol import EMBEDDING_WIDTH, checked_embeddings, checked_predictions
from wsbench.core.records import NOT_KEPT
from wsbench.report.tables import aggregate

TOY = str(ROOT / "tests" / "plugins")


def toy(cli, *args):
    return cli("--plugins", TOY, "run", "--dataset", "synthetic", "--quiet", *args)


@pytest.mark.parametrize("split", ["val", "test"])
def test_a_method_cannot_read_held_out_labels(dirs, cli, split):
    _, results = dirs
    code, _, err = toy(cli, "--method", "peeker", "--param", f"split={split}")
    assert code == 1
    (rec,) = records(results)
    assert rec["status"] == "failed"
    name = "validation" if split == "val" else "test"
    assert f"protocol violation: the labels of the {name} split stay with the harness" in rec["error"]


@pytest.mark.parametrize("kind, message", [
    ("scalar", "expected a 1-D array of 30 labels, got shape ()"),
    ("column", "expected a 1-D array of 30 labels, got shape (30, 1)"),
    ("short", "expected 30 labels (one per sample), got 1"),
    ("float", "expected integer class indices, got dtype float64"),
    ("range", "class indices must lie in [0, 3)"),
])
def test_malformed_predictions_fail_the_run_naming_head_and_epoch(dirs, cli, kind, message):
    _, results = dirs
    code, _, err = toy(cli, "--method", "malformed", "--param", f"kind={kind}", "--data-param", "per_class=10",
                       "--data-param", "classes=3")
    assert code == 1
    (rec,) = records(results)
    assert rec["status"] == "failed"
    assert f"head 'h', epoch 2, validation predictions: {message}" in rec["error"]


def test_a_tuning_run_records_no_test_accuracy_and_no_table_includes_it(dirs, cli):
    _, results = dirs
    code, out, err = toy(cli, "--method", "oracle", "--tune")
    assert code == 0, err
    (rec,) = records(results)
    assert rec["tune"] is True and rec["status"] == "ok"
    assert all("test_acc" not in s and s["val_curve"] for s in rec["heads"].values())
    with np.load(results / rec["predictions"]["file"]) as kept:
        assert sorted(kept.files) == ["val:h"]
    assert "val acc % (mean ± SE)" in out and "test acc" not in out
    code, _, err = cli("report")
    assert code == 2 and "only tuning runs here" in err
    code, out, _ = cli("report", "--tune")
    assert code == 0 and "oracle" in out
    code, out, _ = toy(cli, "--method", "oracle")  # the scored run is a different run, not "done before"
    assert code == 0 and len(records(results)) == 2
    code, out, _ = cli("report", "--format", "csv")
    assert code == 0 and out.count("oracle") == 1


def test_verify_passes_then_names_each_tampered_record(dirs, cli):
    _, results = dirs
    assert toy(cli, "--method", "oracle", "--seeds", "2")[0] == 0
    code, out, _ = cli("verify")
    assert code == 0 and "verified 2 records: 0 problems" in out
    first, second = sorted((results / "runs").glob("*.json"))
    rec = json.loads(first.read_text())

    # one stored prediction altered (the checksum too, as a careful forger would)
    pred_file = results / rec["predictions"]["file"]
    original = pred_file.read_bytes()
    with np.load(pred_file) as f:
        kept = {k: f[k].copy() for k in f.files}
    kept["test:h"][0] = (kept["test:h"][0] + 1) % 4
    np.savez_compressed(pred_file, **kept)
    code, out, _ = cli("verify")
    assert code == 1 and f"MISMATCH {first.name}" in out and "does not match its checksum" in out
    from wsbench.core.fileio import sha256_file
    forged = {**rec, "predictions": {**rec["predictions"], "sha256": sha256_file(pred_file)}}
    first.write_text(json.dumps(forged))
    code, out, _ = cli("verify")
    assert code == 1 and f"MISMATCH {first.name}" in out and "predictions give test accuracy" in out
    pred_file.write_bytes(original)
    first.write_text(json.dumps(rec))
    assert cli("verify")[0] == 0

    # one recorded accuracy altered
    altered = json.loads(first.read_text())
    altered["heads"]["h"]["test_acc"] += 0.01
    first.write_text(json.dumps(altered))
    code, out, _ = cli("verify")
    assert code == 1 and first.name in out and "the record says" in out
    first.write_text(json.dumps(rec))

    # a record copied under another name
    shutil.copy(second, results / "runs" / "0123456789abcdef.json")
    code, out, _ = cli("verify")
    assert code == 1 and "0123456789abcdef.json" in out and "claims the same identity and seed" in out
    with pytest.warns(UserWarning, match="counted once"):
        agg = aggregate([json.loads(p.read_text()) for p in (results / "runs").glob("*.json")])
    assert agg.n.max() == 2  # the copy is not a third seed


def test_verify_uses_stored_labels_where_the_data_set_is_not_prepared(dirs, cli, tmp_path):
    data_root, results = dirs
    assert toy(cli, "--method", "oracle")[0] == 0
    (rec,) = records(results)
    labels = results / rec["labels"]["file"]
    with np.load(labels) as f:
        assert f["test"].dtype == np.int64 and len(f["test"]) == len(f["val"]) == 80
    from wsbench.core import verify as verify_module
    from wsbench.core.errors import DataNotPrepared

    class Unprepared:
        def load(self, *a):
            raise DataNotPrepared("not here")
    reg = discover_all(TOY)
    reg.datasets["synthetic"] = lambda: Unprepared()
    checked, problems = verify_module.verify(results, data_root, reg)
    assert (checked, problems) == (1, [])
    with np.load(labels) as f:
        y = {k: f[k].copy() for k in f.files}
    y["test"][0] = (y["test"][0] + 1) % 4
    np.savez(labels, **y)
    checked, problems = verify_module.verify(results, data_root, reg)
    assert len(problems) == 1 and "test labels it was scored against differ from the stored labels" in problems[0]


def test_report_separates_data_parameters_and_method_versions(dirs, cli, monkeypatch):
    _, results = dirs
    assert toy(cli, "--method", "oracle", "--data-param", "per_class=10")[0] == 0
    assert toy(cli, "--method", "oracle", "--data-param", "per_class=12")[0] == 0
    code, out, _ = cli("report")
    assert code == 0 and "data:per_class=10" in out and "data:per_class=12" in out
    assert all(row.n == 1 for row in aggregate(records(results)).itertuples())
    import wsbench.core.discovery
    real = wsbench.core.discovery.discover

    def bumped(extra=None):
        reg = real(extra)
        reg.methods["oracle"] = type("Oracle2", (reg.methods["oracle"],), {"version": 2})
        return reg
    monkeypatch.setattr("wsbench.cli.discover", bumped)
    assert toy(cli, "--method", "oracle", "--data-param", "per_class=10")[0] == 0  # not "done before"
    assert len(records(results)) == 3
    agg = aggregate(records(results))
    assert len(agg) == 3 and set(agg.config) == {"data:per_class=10 method v1", "data:per_class=10 method v2",
                                                 "data:per_class=12 method v1"}


def test_report_shows_the_commits_of_each_row_and_flags_a_mix(dirs, cli):
    _, results = dirs
    assert toy(cli, "--method", "oracle", "--seeds", "2")[0] == 0
    paths = sorted((results / "runs").glob("*.json"))
    rec = json.loads(paths[1].read_text())
    rec["provenance"]["code"] = {"commit": "f" * 40, "dirty": False}
    paths[1].write_text(json.dumps(rec))
    (row,) = aggregate(records(results)).itertuples()
    assert "ffffffff" in row.commits and row.commits.endswith("(!)")


def test_each_run_has_its_own_process_peak_memory_and_cpu_time(dirs, cli):
    _, results = dirs
    ballast = np.ones(800 << 17)  # the parent holds 800 MB: no run's peak may include it
    assert toy(cli, "--method", "oracle", "--seeds", "2", "--param", "hog_mb=800")[0] == 0
    del ballast
    a, b = sorted(records(results), key=lambda r: r["seed"])
    assert b["cost"]["peak_rss_mb"] < 700  # neither the parent's memory nor seed 0's peak
    assert a["cost"]["peak_rss_mb"] > b["cost"]["peak_rss_mb"] + 700
    assert a["provenance"]["host"] == b["provenance"]["host"]
    assert a["attempt"] != b["attempt"]
    for rec in (a, b):
        assert 0 < rec["cost"]["peak_rss_mb"] < 2000 and rec["cost"]["cpu_s"] > 0
        assert rec["cost"]["attempts"] == 1 and rec["cost"]["resumed"] is False


def test_a_run_keeps_each_heads_embeddings_and_verify_checks_them(dirs, cli):
    _, results = dirs
    assert cli("run", "--method", "cnn-pixels", "--dataset", "synthetic", "--profile", "smoke", "--quiet")[0] == 0
    (rec,) = records(results)
    assert rec["embeddings"]["width"] == {"pixels": 8}  # the smoke CNN's last linear layer takes 2 x 4 channels
    path = results / rec["embeddings"]["file"]
    with np.load(path) as f:
        val, test = f["val:pixels"], f["test:pixels"]
    assert val.dtype == test.dtype == np.float16 and val.shape == test.shape == (80, 8)
    assert (val >= 0).all() and val.std() > 0  # pooled ReLU features, not logits
    assert cli("verify")[0] == 0
    np.savez_compressed(path, **{"val:pixels": val[:-1], "test:pixels": test})
    from wsbench.core.fileio import sha256_file
    rec_path = results / "runs" / f"{rec['run_id']}.json"
    rec_path.write_text(json.dumps({**rec, "embeddings": {**rec["embeddings"], "sha256": sha256_file(path)}}))
    code, out, _ = cli("verify")
    assert code == 1 and "head 'pixels': val embeddings of shape (79, 8), expected (80, 8)" in out


def test_only_seed_0_keeps_its_embeddings_file_and_verify_holds_each_record_to_its_own(dirs, cli):
    _, results = dirs
    assert cli("run", "--method", "cnn-pixels", "--dataset", "synthetic", "--profile", "smoke", "--quiet",
               "--seeds", "2")[0] == 0
    zero, one = sorted(records(results), key=lambda r: r["seed"])
    assert zero["embeddings"]["file"] == f"embeddings/{zero['run_id']}.npz"
    assert one["embeddings"] == {"file": None, "width": {"pixels": 8}, "note": NOT_KEPT}
    assert [p.name for p in (results / "embeddings").iterdir()] == [f"{zero['run_id']}.npz"]
    assert [p.name for p in (results / "figures").iterdir()] == [f"{zero['run_id']}-pixels-embeddings.png"]
    assert cli("verify")[0] == 0
    code, _, err = cli("similarity", "--dataset", "synthetic", "--seed", "1")
    assert code == 2 and "only seed 0's runs keep them" in err and "Traceback" not in err

    def verify_with(rec: dict, embeddings) -> tuple[int, str]:
        (results / "runs" / f"{rec['run_id']}.json").write_text(json.dumps({**rec, "embeddings": embeddings}))
        return cli("verify")[:2]
    named = f"embeddings/{one['run_id']}.npz"  # a seed-1 record that names a file is held to its checksum
    shutil.copyfile(results / zero["embeddings"]["file"], results / named)
    code, out = verify_with(one, {**zero["embeddings"], "file": named, "sha256": "0" * 64})
    assert code == 1 and f"embeddings file {results / named} does not match its checksum" in out
    code, out = verify_with(one, {"file": named, "width": {"pixels": 8}})
    assert code == 1 and "embeddings entry names file 'embeddings/" in out and "without a sha256" in out
    assert verify_with(one, one["embeddings"])[0] == 0
    code, out = verify_with(zero, one["embeddings"])  # seed 0 must keep its file
    assert code == 1 and "names no embeddings file, but seed 0's runs keep theirs" in out


def test_wide_embeddings_are_kept_as_their_leading_principal_components():
    rng = np.random.default_rng(0)
    val, test = rng.normal(size=(300, 100)) * np.linspace(3, 0.1, 100), rng.normal(size=(200, 100))
    head = HeadResult([np.zeros(300, int)], [np.zeros(200, int)], embeddings={"val": val, "test": test})
    kept = checked_embeddings("h", head, {"val": 300, "test": 200})
    assert kept["val:h"].shape == (300, EMBEDDING_WIDTH) and kept["test:h"].shape == (200, EMBEDDING_WIDTH)
    spread = kept["val:h"].astype(float).var(0)
    assert (np.diff(spread) <= 1e-2).all()  # leading components first
    assert spread.sum() > 0.95 * val.var(0).sum()  # they keep almost all of the variance
    assert checked_embeddings("h", HeadResult([], []), {"val": 300}) == {}
    with pytest.raises(ProtocolViolation, match="test missing"):
        checked_embeddings("h", HeadResult([], [], embeddings={"val": val}), {"val": 300, "test": 200})
    with pytest.raises(ProtocolViolation, match=r"differ in width \(100, 99\)"):
        checked_embeddings("h", HeadResult([], [], embeddings={"val": val, "test": test[:, 1:]}),
                           {"val": 300, "test": 200})
    with pytest.raises(ProtocolViolation, match="float16's range"):
        checked_embeddings("h", HeadResult([], [], embeddings={"val": val[:, :3] * 1e6, "test": test[:, :3]}),
                           {"val": 300, "test": 200})


def test_each_check_of_a_heads_output_names_its_defect():
    """NaN and infinities are called that, apart from a wrong shape or dtype."""
    val, test = np.ones((300, 256), np.float32), np.ones((200, 256), np.float32)
    val[0, :12] = np.nan
    test[1, 0] = np.inf

    def fails(message, **embeddings):
        with pytest.raises(ProtocolViolation) as err:
            checked_embeddings("x", HeadResult([], [], embeddings={"val": val, "test": test, **embeddings}),
                               {"val": 300, "test": 200})
        assert str(err.value) == message

    fails("val embeddings of head 'x' hold NaN (12 of 76800 values)")
    fails("test embeddings of head 'x' hold infinities (1 of 51200 values)", val=np.ones((300, 256)))
    fails("val embeddings of head 'x': expected shape (300, D), one vector per sample, got shape (300,)",
          val=np.ones(300))
    fails("val embeddings of head 'x': expected a float array, got dtype int64", val=np.ones((300, 2), np.int64))
    with pytest.raises(ProtocolViolation, match=r"got dtype float32 holding NaN \(1 of 30 values\)$"):
        checked_predictions(np.r_[np.nan, np.zeros(29)].astype(np.float32), 30, 3, "h", 2, "validation")
    with pytest.raises(ProtocolViolation, match=r"got shape \(30, 3\) \(logits\? return their argmax"):
        checked_predictions(np.zeros((30, 3)), 30, 3, "h", 2, "validation")


def test_a_feature_head_refuses_nan_features_before_training():
    import torch
    from wsbench.core.context import RunContext
    from wsbench.train.heads import train_feature_head
    x = torch.ones(10, 4)
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ProtocolViolation, match=r"^val features of head 'proj' hold NaN \(1 of 40 values\)$"):
        train_feature_head(x, torch.zeros(10, dtype=torch.long), bad, x, 2, RunContext(torch.device("cpu"), 0),
                           name="proj")


def test_predict_refuses_logits_that_are_not_finite():
    """A diverged classifier fails naming NaN instead of scoring the argmax of NaN (class 0)."""
    import torch
    from torch import nn

    from wsbench.train.heads import predict

    class Diverged(nn.Module):
        def forward(self, x):
            return torch.where(x[:, :1] > 0, torch.nan, 0.0).expand(-1, 3)

    x = torch.tensor([[-1.0], [1.0], [-1.0]])
    with pytest.raises(ProtocolViolation, match=r"logits of samples 0-2 hold NaN \(3 of 9 values\)"):
        predict(Diverged(), x)
    assert predict(Diverged(), -x.abs()).tolist() == [0, 0, 0]
