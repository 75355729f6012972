import os
import subprocess
import sys
import signal
import time

import numpy as np
import pytest

from conftest import ROOT, records, run_subprocess

from wsbench.core.contracts import HeadResult
from wsbench.core.protocol import score_head

TOY = str(ROOT / "tests" / "plugins")


def test_selection_uses_validation_not_test():
    y = np.array([0, 1, 2, 3])
    head = HeadResult(val_pred=[y, np.array([0, 1, 0, 0]), y],
                      test_pred=[np.array([0, 0, 0, 0]), y, y])
    s, kept = score_head("h", head, y, y, 4)
    assert s["best_epoch"] == 1 and s["val_acc"] == 1.0 and s["test_acc"] == 0.25
    assert kept["val:h"].shape == (3, 4) and kept["test:h"].tolist() == [0, 0, 0, 0]
    s, kept = score_head("h", head, y, None, 4)  # a tuning run: no test accuracy, no test predictions
    assert "test_acc" not in s and "test:h" not in kept


def test_same_seed_same_numbers(dirs, cli):
    _, results = dirs
    args = ("run", "--method", "hyperinr", "--dataset", "synthetic", "--profile", "smoke", "--quiet")
    assert cli(*args)[0] == 0
    first = records(results)[0]
    assert cli(*args, "--force")[0] == 0
    second = records(results)[0]
    assert first["heads"] == second["heads"] and first["metrics"] == second["metrics"]
    assert cli(*args, "--seeds", "1-1")[0] == 0
    other = [r for r in records(results) if r["seed"] == 1][0]
    assert other["metrics"] != first["metrics"]


def test_rerun_does_no_work_and_prints_the_same_table(dirs, cli, monkeypatch):
    args = ("--plugins", TOY, "run", "--method", "oracle", "--dataset", "synthetic", "--seeds", "3", "--quiet")
    code, table, _ = cli(*args)
    assert code == 0
    import wsbench.core.runner
    monkeypatch.setattr(wsbench.core.runner, "run_in_process", lambda *a: pytest.fail("a finished run ran again"))
    code, again, err = cli(*args)
    assert code == 0 and again == table
    assert err.count("done before") == 3


def test_failing_seed_gets_a_failed_record_and_others_run(dirs, cli):
    _, results = dirs
    code, out, err = cli("--plugins", TOY, "run", "--method", "oracle", "--dataset", "synthetic",
                         "--seeds", "3", "--param", "fail_seed=1", "--quiet")
    assert code == 1
    recs = {r["seed"]: r for r in records(results)}
    assert [recs[s]["status"] for s in (0, 1, 2)] == ["ok", "failed", "ok"]
    assert "planned failure on seed 1" in recs[1]["error"] and "Traceback" in recs[1]["error"]
    assert "FAILED" in err
    from wsbench.report.tables import aggregate
    row = aggregate(records(results)).iloc[0]
    assert (row.n, row.failed) == (2, 1)


def test_killed_run_leaves_no_partial_record_and_resumes(tmp_path, dirs):
    _, results = dirs
    marker = tmp_path / "stalled"
    env = {**os.environ, "TOY_MARKER": str(marker)}
    args = ["--plugins", TOY, "run", "--method", "oracle", "--dataset", "synthetic", "--seeds", "3",
            "--param", "stall_seed=1", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "wsbench", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert marker.exists(), proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [r["seed"] for r in records(results)] == [0]
    assert not [p for p in (results / "runs").iterdir() if not p.name.endswith(".json")]
    done = run_subprocess(args, {**env, "TOY_FAST": "1"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("done before") == 1
    assert sorted(r["seed"] for r in records(results)) == [0, 1, 2]


def test_unknown_method_and_dataset_list_the_available_ones(dirs, cli):
    code, _, err = cli("run", "--method", "nope")
    assert code == 2 and "unknown method 'nope'; available:" in err and "hyperinr" in err
    code, _, err = cli("run", "--dataset", "nope")
    assert code == 2 and "unknown data set 'nope'; available:" in err and "digits" in err


def test_bad_param_exits_with_its_name(dirs, cli):
    code, _, err = cli("run", "--param", "latent_dim=many")
    assert code == 2 and "latent_dim='many' is not a valid int" in err


def test_cuda_request_without_gpu_is_an_error(dirs, cli):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    code, _, err = cli("run", "--device", "cuda", "--profile", "smoke")
    assert code == 2 and "--device cuda" in err


def test_encoder_variant_with_classification_loss_runs(dirs, cli):
    _, results = dirs
    code, _, err = cli("run", "--dataset", "synthetic", "--profile", "smoke", "--quiet",
                       "--param", "encoder=true", "--param", "cls_weight=0.5")
    assert code == 0, err
    (rec,) = records(results)
    assert rec["status"] == "ok", rec.get("error")
    assert set(rec["heads"]) == {"z", "w"} and "train_encoder" in rec["cost"]["stages"]


def test_data_root_inside_the_source_tree_is_refused(dirs, cli):
    code, _, err = cli("--data-root", str(ROOT / "data"), "run", "--profile", "smoke")
    assert code == 2 and "inside the source tree" in err
