"""Bad input and faults: every mistake named before work starts, in one line without a
traceback, with a non-zero exit; nothing good lost; one owner per run."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, records

from test_data import write_fake_mnist

TOY = str(ROOT / "tests" / "plugins")


def clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and err.count("wsbench: error:") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("entry,key", [("methods", "parms"), ("methods", "profle"), ("datasets", "form")])
def test_misspelt_sweep_entry_keys_are_named(tmp_path, dirs, cli, entry, key):
    sweep = tmp_path / "s.yaml"
    method = {"name": "hyperinr", **({key: "x"} if entry == "methods" else {})}
    dataset = {"name": "digits", **({key: "x"} if entry == "datasets" else {})}
    sweep.write_text(json.dumps({"seeds": 1, "methods": [method], "datasets": [dataset]}))
    code, _, err = cli("sweep", str(sweep), "--cluster", "debug", "--dry-run")
    clean_error(code, err, f"{entry} entry 1", f"unknown key {key!r}", "known: name, params, ")
    assert not (dirs[1] / "runs").exists()


@pytest.mark.parametrize("seeds,why", [("3-1", "descending range"), ("1,1", "1 appears twice"),
                                       ("4294967296", "a count must lie between 1 and 10000"),
                                       ("4294967296,1", "outside 0-4294967295")])
def test_bad_seed_selections_fail_before_any_run(dirs, cli, tmp_path, seeds, why):
    code, _, err = cli("run", "--profile", "smoke", "--seeds", seeds)
    clean_error(code, err, f"--seeds {seeds!r}", why)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(json.dumps({"seeds": seeds, "methods": ["hyperinr"], "datasets": ["digits"]}))
    code, _, err = cli("sweep", str(sweep), "--cluster", "debug")
    clean_error(code, err, f"{sweep}: seeds {seeds!r}", why)
    assert not (dirs[1] / "runs").exists()


def test_a_repeated_method_or_data_set_is_an_error(dirs, cli):
    code, _, err = cli("run", "--profile", "smoke", "--method", "hyperinr", "--method", "hyperinr")
    clean_error(code, err, "--method hyperinr is given twice")
    code, _, err = cli("run", "--profile", "smoke", "--dataset", "digits", "--dataset", "digits")
    clean_error(code, err, "--dataset digits is given twice")
    assert not (dirs[1] / "runs").exists()


@pytest.mark.parametrize("param,why", [("latent_dim=-4", "must be at least 1"), ("epochs=0", "must be at least 1"),
                                       ("hyper_hidden=a,b", "comma-separated positive integers")])
def test_parameter_values_that_cannot_work_are_refused_before_any_run(dirs, cli, param, why):
    code, _, err = cli("run", "--profile", "smoke", "--param", param)
    clean_error(code, err, f"parameter {param.split('=')[0]}=", why)
    assert not (dirs[1] / "runs").exists()


def test_descending_shards_are_an_error(dirs, cli):
    code, _, err = cli("zoo", "fit", "--dataset", "synthetic", "--zoo-param", "inr_steps=2", "--shards", "9-0")
    clean_error(code, err, "--shards '9-0': 9-0 is a descending range")
    assert not (dirs[0] / "zoos").exists()


def test_prepare_refuses_a_train_list_of_the_right_size_but_the_wrong_classes(tmp_path, dirs, cli, registry,
                                                                             monkeypatch):
    from test_pointclouds import write_class_folders
    from wsbench.data.splits import write_split
    cls = registry.dataset("modelnet40")
    monkeypatch.setattr(cls, "train_counts", (2,) * len(cls.classes))
    write_split(tmp_path / "split.json", cls.make_split(), "2 train shapes per class")
    monkeypatch.setattr(cls, "split_file", tmp_path / "split.json")
    write_class_folders(tmp_path / "src", cls.classes)
    shutil.move(tmp_path / "src" / "desk" / "train" / "desk_train0001.npy",  # 80 shapes, but 3 chairs and 1 desk
                tmp_path / "src" / "chair" / "train" / "chair_train0002.npy")
    code, _, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"), "--data-param", "points=64")
    clean_error(code, err, "train shapes per class differ", "chair 3 (expected 2)", "desk 1 (expected 2)",
                "left as it was")
    assert not (dirs[0] / "modelnet40").exists()


@pytest.mark.parametrize("where", ["file", "under a file", "unreachable"])
def test_a_results_folder_that_cannot_be_written_fails_before_any_work(tmp_path, dirs, cli, where, monkeypatch):
    import wsbench.core.runner
    monkeypatch.setattr(wsbench.core.runner, "run_in_process", lambda *a: pytest.fail("a run started"))
    (tmp_path / "afile").write_text("not a folder")
    results = {"file": tmp_path / "afile", "under a file": tmp_path / "afile" / "results",
               "unreachable": "/proc/wsbench-results"}[where]
    code, _, err = cli("--results", str(results), "run", "--profile", "smoke")  # refused before any run
    clean_error(code, err, f"results folder (--results or $WSBENCH_RESULTS) {results}")
    code, _, err = cli("--data-root", str(results), "prepare", "mnist", "--from", str(tmp_path))
    clean_error(code, err, f"data root (--data-root or $WSBENCH_DATA) {results}")
    assert (tmp_path / "afile").read_text() == "not a folder"


def test_misshapen_embeddings_fail_their_run_naming_the_head(dirs, cli):
    _, results = dirs
    code, _, err = cli("--plugins", TOY, "run", "--method", "artist", "--dataset", "synthetic", "--param",
                       "missing_rows=1")
    assert code == 1 and "Traceback" not in err
    (rec,) = records(results)
    assert rec["status"] == "failed" and "protocol violation: test embeddings of head 'h': expected shape " \
        "(80, D), one vector per sample, got shape (79, 2)" in rec["error"]
    assert not (results / "embeddings").exists()


def test_a_nan_metric_is_written_as_valid_json(dirs, cli):
    _, results = dirs
    code, _, err = cli("--plugins", TOY, "run", "--method", "artist", "--dataset", "synthetic", "--param",
                       "nan_metric=true")
    assert code == 0, err
    (path,) = (results / "runs").glob("*.json")

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    record = json.loads(path.read_text(), parse_constant=refuse)
    assert record["metrics"]["spread"] is None
    assert cli("report")[0] == 0


def test_report_skips_files_that_are_not_records_and_verify_fails_on_them(dirs, cli):
    _, results = dirs
    assert cli("--plugins", TOY, "run", "--method", "oracle", "--dataset", "synthetic")[0] == 0
    (results / "runs" / "fake.json").write_text('{"status": "ok"}')
    (results / "runs" / "list.json").write_text("[1, 2]")
    code, out, err = cli("report")
    assert code == 0 and "oracle" in out and "Traceback" not in err, err
    assert f"wsbench: warning: skipping {results / 'runs' / 'fake.json'}: not a run record (no schema, run_id" in err
    assert f"skipping {results / 'runs' / 'list.json'}: a JSON list, not a run record" in err
    code, out, _ = cli("verify")
    assert code == 1 and "MISMATCH fake.json: not a run record" in out and "MISMATCH list.json: a JSON list" in out


def test_prepare_cleans_the_leftovers_of_a_killed_prepare(tmp_path, dirs, cli):
    data_root, _ = dirs
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = data_root / f".mnist.{dead.pid}@{socket.gethostname()}.abc123.tmp"
    (leftover / "raw").mkdir(parents=True)
    (leftover / "data.npz").write_bytes(b"x" * 1000)
    alive = data_root / f".mnist.{os.getpid()}@{socket.gethostname()}.def456.tmp"  # a live process's: kept
    alive.mkdir()
    write_fake_mnist(tmp_path / "src", gz=True)
    code, _, err = cli("prepare", "mnist", "--from", str(tmp_path / "src"))
    assert code == 0, err
    assert not leftover.exists() and alive.exists()


def test_two_identical_runs_share_the_work_and_both_print_every_result(dirs, tmp_path):
    data_root, results = dirs
    env = {**os.environ, "WSBENCH_DATA": str(data_root), "WSBENCH_RESULTS": str(results), "OMP_NUM_THREADS": "1"}
    args = ["run", "--method", "hyperinr", "--dataset", "digits", "--seeds", "2", "--profile", "smoke", "--quiet"]
    procs = [subprocess.Popen([sys.executable, "-m", "wsbench", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len(records(results)) == 2
    for seed in (0, 1):
        lines = [line for _, err in outs for line in err.splitlines() if f"hyperinr on digits seed {seed}:" in line
                 and line.startswith("[")]
        done_here = [line for line in lines if "(run by another process)" not in line
                     and "(done before" not in line and "being run by" not in line]
        assert len(done_here) == 1, lines  # each run's work done once, by one of the two
    for out, _ in outs:  # both tables are complete
        assert out.count("| digits ") == 2 and "|   2 |" in out


def test_a_stale_lock_is_taken_over_and_a_live_one_is_respected(tmp_path):
    from wsbench.core.lock import RunLock
    path = tmp_path / "locks" / "r.lock"
    first = RunLock(path, stale_s=5, heartbeat_s=0.1)
    assert first.acquire()
    second = RunLock(path, stale_s=5, heartbeat_s=0.1)
    assert not second.acquire() and second.held_by_other()
    time.sleep(0.3)
    assert second.age() < 0.3  # the owner's heartbeat keeps it fresh
    first._stop.set()
    first._beat.join()  # the owner dies without releasing: its heartbeat stops
    old = time.time() - 10
    os.utime(path, (old, old))
    assert not second.held_by_other() and second.acquire()
    assert json.loads(path.read_text())["token"] == second.token
    second.release()
    assert not path.exists()
