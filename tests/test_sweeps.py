"""Sweeps on a real single-node SLURM cluster (slurm/cluster/), and with the local
and debug executors. Where SLURM is not installed the cluster tests skip, unless
$WSBENCH_REQUIRE_SLURM is set (CI sets it), where they fail instead."""
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, records, run_subprocess

SMOKE = ROOT / "slurm" / "sweeps" / "smoke.yaml"
LOCAL_SETTINGS = ROOT / "slurm" / "cluster.local.yaml"
TOY = str(ROOT / "tests" / "plugins")


@pytest.fixture(scope="module")
def slurm():
    """Start the test cluster for this module; stop it and remove its state afterwards."""
    if shutil.which("slurmctld") is None or shutil.which("sbatch") is None:
        if os.environ.get("WSBENCH_REQUIRE_SLURM"):
            pytest.fail("SLURM is required here ($WSBENCH_REQUIRE_SLURM) but slurmctld/sbatch are missing; "
                        "run slurm/cluster/install.sh")
        pytest.skip("SLURM is not installed (slurm/cluster/install.sh installs it)")
    state = Path(f"/tmp/wsbench-slurm-{os.getpid()}")
    start = subprocess.run([str(ROOT / "slurm" / "cluster" / "start.sh"), str(state)],
                           capture_output=True, text=True, timeout=300)
    if start.returncode != 0:
        subprocess.run([str(ROOT / "slurm" / "cluster" / "stop.sh"), str(state)], timeout=120)
        pytest.fail(f"the test cluster did not start:\n{start.stderr[-3000:]}")
    conf = start.stdout.strip().split("=", 1)[1]
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    yield conf
    subprocess.run([str(ROOT / "slurm" / "cluster" / "stop.sh"), str(state)], timeout=120)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old


def env_for(tmp_path: Path, **extra) -> dict:
    return {**os.environ, "WSBENCH_DATA": str(tmp_path / "data"), "WSBENCH_RESULTS": str(tmp_path / "results"),
            **extra}


def sweep_cmd(file: Path, cluster: str, *more: str) -> list[str]:
    return ["sweep", str(file), "--cluster", cluster, "--settings", str(LOCAL_SETTINGS), *more]


def toy_sweep(tmp_path: Path, name: str, method: str, params: dict, seeds: int = 3) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps({"name": name, "seeds": seeds, "profile": "quick",
                                "methods": [{"name": method, "params": params}],
                                "datasets": [{"name": "synthetic"}]}))
    return path


def wait_for_file(path: Path, proc: subprocess.Popen, seconds: float = 120) -> str:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early:\n{proc.stderr.read()}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{path} never appeared")


def popen_sweep(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wsbench", "--plugins", TOY, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def status_rows(table: str) -> list[dict]:
    """Parse the markdown table printed by `wsbench status`."""
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]


def check_smoke_results(tmp_path: Path, env: dict) -> None:
    recs = records(tmp_path / "results")
    assert len(recs) == 12 and all(r["status"] == "ok" for r in recs)
    assert sorted({(r["dataset"], r["params"]["latent_dim"]) for r in recs}) == [
        ("digits", 8), ("digits", 16), ("synthetic", 8), ("synthetic", 16)]
    report = run_subprocess(["report", "--sweep", str(SMOKE), "--format", "csv"], env, timeout=60)
    assert report.returncode == 0
    rows = [row for row in csv.DictReader(io.StringIO(report.stdout)) if row["method"] == "hyperinr"]
    assert len(rows) == 8 and all("±" in row["test acc % (mean ± SE)"] and row["n"] == "3" for row in rows)
    again = run_subprocess(sweep_cmd(SMOKE, "local"), env, timeout=120)
    assert again.returncode == 0 and "12 done or active, 0 to submit" in again.stderr


@pytest.mark.parametrize("cluster", ["local", "debug"])
def test_smoke_sweep_without_slurm(tmp_path, cluster):
    env = env_for(tmp_path)
    out = run_subprocess(sweep_cmd(SMOKE, cluster), env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "12 to submit" in out.stderr and "12 done" in out.stdout
    progress = [line for line in out.stderr.splitlines() if line.startswith("  [")]
    assert [line.split("]")[0] for line in progress] == [f"  [{k}/12" for k in range(1, 13)]
    assert all(" seed " in line and "%" in line for line in progress)  # each run's accuracy as it ends
    check_smoke_results(tmp_path, env)


def test_local_runs_start_in_waves_no_wider_than_the_cpus(monkeypatch):
    """The local executor starts every job it is given at once; the sweep hands it at most
    `array_parallelism` runs at a time, and never more than the CPUs hold at `cpus_per_task`."""
    from wsbench.cluster import submit as sub
    monkeypatch.setattr(sub, "usable_cpus", lambda: 8)
    assert sub.local_parallelism({"cpus_per_task": 1, "array_parallelism": 2}) == 2
    assert sub.local_parallelism({"cpus_per_task": 8, "array_parallelism": 64}) == 1
    assert sub.local_parallelism({"cpus_per_task": 2, "array_parallelism": 64}) == 4

    class Job:
        def __init__(self, log):
            self.polls, self.log = 0, log

        def done(self):  # each job ends at its second poll
            self.polls += 1
            return self.polls >= 2

    class Executor:
        def __init__(self):
            self.jobs, self.widest = [], 0

        def submit(self, fn, request):
            self.jobs.append(Job(request))
            self.widest = max(self.widest, sum(not j.polls >= 2 for j in self.jobs))
            return self.jobs[-1]

    ended, booked = [], []
    monkeypatch.setattr(sub, "report_end", lambda spec, job, prefix, results, log: ended.append((spec, prefix)))
    executor = Executor()
    sub.run_in_waves(list("abcde"), [f"r{k}" for k in range(5)], executor, 2, booked.extend, Path("."), print,
                     poll_seconds=0)
    assert executor.widest == 2 and [j.log for j in executor.jobs] == ["r0", "r1", "r2", "r3", "r4"]
    assert sorted(spec for spec, _ in ended) == list("abcde") and [p for _, p in ended][-1] == "  [5/5]"
    assert [spec for spec, _ in booked] == list("abcde")


def test_stage_jobs_share_out_a_zoos_shards(tmp_path, registry):
    """Each of a stage's jobs fits its own shards, counted over the train, val and test zoos:
    the second of two fits the one validation shard and nothing else."""
    from wsbench.cluster.stages import shared_stages
    from wsbench.cluster.sweepfile import load_sweep
    from wsbench.core.request import Request
    data = tmp_path / "data"
    registry.dataset("synthetic")().prepare(data, None, {})
    specs = load_sweep(ROOT / "slurm" / "sweeps" / "zoo-smoke.yaml", registry).specs
    where = Request(str(data), str(tmp_path / "results"), "cpu", registry.dirs, threads=1)
    stages = shared_stages(specs, registry, where, jobs=2)
    assert [s.key.rsplit(", ", 1)[1] for s in stages] == ["piece 1 of 2", "piece 2 of 2"]
    stages[1].fn(*stages[1].args)
    folders = sorted(p.parent.name for p in (data / "zoos").glob("*/shard-*.npz"))
    val_zoo = [p.parent.name for p in (data / "zoos").glob("*/manifest.json")
               if json.loads(p.read_text())["spec"]["part"] == "val"]
    assert folders == val_zoo  # only the validation zoo's shard, the second of the three
    stages[0].fn(*stages[0].args)
    assert len(list((data / "zoos").glob("*/shard-*.npz"))) == 3
    assert shared_stages(specs, registry, where, jobs=1)[0].key.endswith("(inr zoo)")


def test_dry_run_submits_nothing(tmp_path):
    env = env_for(tmp_path)
    out = run_subprocess(sweep_cmd(SMOKE, "debug", "--dry-run"), env, timeout=60)
    assert out.returncode == 0 and out.stderr.count("(not submitted)") == 12
    assert not (tmp_path / "results" / "runs").exists()


def fake_slurm(bin_dir: Path, squeue: str, sacct: str = "exit 0") -> None:
    """Stand-ins for squeue and sacct (shell bodies), so that status's reading of SLURM's
    answers, and of its silence, is tested where SLURM is not installed."""
    bin_dir.mkdir(exist_ok=True)
    for name, body in (("squeue", squeue), ("sacct", sacct)):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)


def test_unreachable_slurm_is_unknown_and_not_resubmitted(tmp_path):
    """When squeue cannot reach the controller (a wrong SLURM_CONF, a restarting slurmctld),
    submitted runs are `unknown`, not `failed`, and a sweep does not submit them twice."""
    sweep = toy_sweep(tmp_path, "book", "oracle", {})
    rows = status_rows(run_subprocess(["--plugins", TOY, "status", str(sweep)], env_for(tmp_path)).stdout)
    assert [row["state"] for row in rows] == ["not submitted"] * 3
    book = {"cluster": "slurm", "runs": {row["run"]: {"job_id": f"77_{i}", "stderr": f"/logs/77_{i}.err"}
                                         for i, row in enumerate(rows)}}
    (tmp_path / "results" / "sweeps" / "book").mkdir(parents=True)
    (tmp_path / "results" / "sweeps" / "book" / "jobs.json").write_text(json.dumps(book))
    fake_slurm(tmp_path / "bin", 'echo "squeue: error: Unable to contact slurm controller" >&2; exit 1')
    env = env_for(tmp_path, PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    rows = status_rows(run_subprocess(["--plugins", TOY, "status", str(sweep)], env).stdout)
    assert [row["state"] for row in rows] == ["unknown"] * 3
    assert "Unable to contact slurm controller" in rows[0]["reason"]
    out = run_subprocess(["--plugins", TOY, *sweep_cmd(sweep, "slurm", "--dry-run")], env, timeout=60)
    assert out.returncode == 0 and "0 to submit" in out.stderr and "3 submitted runs not submitted again" in out.stderr
    fake_slurm(tmp_path / "bin", "echo '77_0|RUNNING'; echo '77_1|PENDING'",
               "echo '77_2|CANCELLED by 0'")  # squeue answers: 77_2 has left the queue, cancelled
    rows = status_rows(run_subprocess(["--plugins", TOY, "status", str(sweep)], env).stdout)
    assert [row["state"] for row in rows] == ["running", "pending", "failed"]
    assert rows[2]["reason"] == "job ended (CANCELLED) without a record"
    out = run_subprocess(["--plugins", TOY, *sweep_cmd(sweep, "slurm", "--dry-run")], env, timeout=60)
    assert "1 to submit" in out.stderr and "not submitted again" not in out.stderr


def test_bad_sweep_file_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: [{name: hyperinr, params: {latent_dim: [8, x]}}]\ndatasets: [digits]\n")
    out = run_subprocess(sweep_cmd(bad, "debug"), env_for(tmp_path), timeout=60)
    assert out.returncode == 2 and "latent_dim='x' is not a valid int" in out.stderr
    bad.write_text("method: [hyperinr]\n")
    out = run_subprocess(sweep_cmd(bad, "debug"), env_for(tmp_path), timeout=60)
    assert out.returncode == 2 and "bad.yaml: unknown key 'method'; known: name, seeds" in out.stderr


def test_entries_choose_their_data_sets_and_seeds(tmp_path, registry):
    from wsbench.cluster.sweepfile import load_sweep
    sweep = tmp_path / "entries.yaml"
    sweep.write_text("seeds: 2\nprofile: smoke\nmethods:\n  - name: hyperinr\n  - name: flat-mlp\n"
                     "    datasets: [synthetic]\n    seeds: [3]\ndatasets:\n  - name: digits\n    seeds: 1-3\n"
                     "  - name: synthetic\n")
    runs = sorted((s.method, s.dataset, s.seed) for s in load_sweep(sweep, registry).specs)
    assert runs == [("flat-mlp", "synthetic", 3), ("hyperinr", "digits", 1), ("hyperinr", "digits", 2),
                    ("hyperinr", "digits", 3), ("hyperinr", "synthetic", 0), ("hyperinr", "synthetic", 1)]
    quick = load_sweep(ROOT / "slurm" / "sweeps" / "quick.yaml", registry).specs
    seeds = {(s.method, s.dataset, json.dumps(s.params, sort_keys=True)): set() for s in quick}
    for s in quick:
        seeds[s.method, s.dataset, json.dumps(s.params, sort_keys=True)].add(s.seed)
    assert {d: max(len(v) for (m, ds, _), v in seeds.items() if ds == d) for d in ("digits", "mnist",
            "fashion-mnist", "modelnet40")} == {"digits": 5, "mnist": 5, "fashion-mnist": 3, "modelnet40": 3}
    assert ("pointnet", "mnist") not in {(s.method, s.dataset) for s in quick}
    sweep.write_text("methods:\n  - name: hyperinr\n    datasets: [mnsit]\ndatasets: [digits]\n")
    out = run_subprocess(sweep_cmd(sweep, "debug"), env_for(tmp_path), timeout=60)
    assert out.returncode == 2 and "`datasets` names 'mnsit'" in out.stderr


def test_smoke_sweep_on_slurm(slurm, tmp_path):
    env = env_for(tmp_path)
    out = run_subprocess(sweep_cmd(SMOKE, "slurm", "--wait"), env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "as slurm jobs" in out.stderr
    jobs = json.loads((tmp_path / "results" / "sweeps" / "smoke" / "jobs.json").read_text())
    assert len({j["job_id"].split("_")[0] for j in jobs["runs"].values()}) == 1  # one job array
    check_smoke_results(tmp_path, env)
    status = run_subprocess(["status", str(SMOKE)], env, timeout=60)
    assert status.stdout.strip().endswith("12 done")


def test_cancelled_task_is_failed_and_rerun(slurm, tmp_path):
    marker = tmp_path / "stalled"
    env = env_for(tmp_path, TOY_MARKER=str(marker))
    sweep = toy_sweep(tmp_path, "cancel", "oracle", {"stall_seed": 1})
    proc = popen_sweep(sweep_cmd(sweep, "slurm", "--wait"), env)
    wait_for_file(marker, proc)
    rows = status_rows(run_subprocess(["--plugins", TOY, "status", str(sweep)], env, timeout=60).stdout)
    (stalled,) = [row for row in rows if row["seed"] == "1"]
    assert stalled["state"] == "running"
    subprocess.run(["scancel", stalled["job"]], check=True)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    rows = status_rows(run_subprocess(["--plugins", TOY, "status", str(sweep)], env, timeout=60).stdout)
    assert [row["state"] for row in sorted(rows, key=lambda r: r["seed"])] == ["done", "failed", "done"]
    (failed,) = [row for row in rows if row["state"] == "failed"]
    assert "CANCELLED" in failed["reason"] and failed["log"].endswith(".err")
    assert sorted(r["seed"] for r in records(tmp_path / "results") if r["status"] == "ok") == [0, 2]
    again = run_subprocess(["--plugins", TOY, *sweep_cmd(sweep, "slurm", "--wait")], {**env, "TOY_FAST": "1"},
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 to submit" in again.stderr
    assert sorted(r["seed"] for r in records(tmp_path / "results") if r["status"] == "ok") == [0, 1, 2]


def test_sigkilled_task_neither_hangs_nor_loses_others(slurm, tmp_path):
    marker = tmp_path / "stalled"
    env = env_for(tmp_path, TOY_MARKER=str(marker))
    sweep = toy_sweep(tmp_path, "kill", "oracle", {"stall_seed": 1})
    proc = popen_sweep(sweep_cmd(sweep, "slurm", "--wait"), env)
    pid = wait_for_file(marker, proc)
    os.kill(int(pid), signal.SIGKILL)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    recs = {r["seed"]: r for r in records(tmp_path / "results")}
    assert recs[0]["status"] == recs[2]["status"] == "ok"
    assert recs[1]["status"] == "failed"
    assert "the run's process was killed by signal SIGKILL without writing its record" in recs[1]["error"]
    assert recs[1]["log"].endswith("_log.err")


def test_requeued_job_resumes_from_its_checkpoint(slurm, tmp_path):
    env = env_for(tmp_path)
    sweep = toy_sweep(tmp_path, "requeue", "counter", {"steps": 80, "step_seconds": 0.25}, seeds=1)
    proc = popen_sweep(sweep_cmd(sweep, "slurm", "--wait"), env)
    deadline = time.time() + 120
    ckpt = None
    while time.time() < deadline and ckpt is None:
        found = list((tmp_path / "results" / "checkpoints").glob("*/count.pt")) \
            if (tmp_path / "results" / "checkpoints").exists() else []
        ckpt = found[0] if found else None
        time.sleep(0.2)
    assert ckpt is not None, "the job never checkpointed"
    time.sleep(1.5)  # a few more steps
    jobs = json.loads((tmp_path / "results" / "sweeps" / "requeue" / "jobs.json").read_text())
    (job_id,) = [j["job_id"] for j in jobs["runs"].values()]
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    # SLURM holds a requeued job back for two minutes (reason BeginTime); release it at once
    for _ in range(100):
        reason = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%r"], capture_output=True, text=True)
        if reason.stdout.strip() == "BeginTime":
            subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)
            break
        time.sleep(0.2)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    (rec,) = records(tmp_path / "results")
    assert rec["status"] == "ok"
    assert 3 <= rec["metrics"]["resumed_from"] < 80
    assert not ckpt.parent.exists()  # checkpoints are removed once the record is written


def test_zoos_are_shared_stages_on_slurm(slurm, tmp_path):
    env = env_for(tmp_path)
    sweep = ROOT / "slurm" / "sweeps" / "zoo-smoke.yaml"
    out = run_subprocess(sweep_cmd(sweep, "slurm", "--wait"), env, timeout=600)
    assert out.returncode == 0, out.stderr
    # one stage: dwsnet and flat-mlp declare the same zoo recipe for both seeds (train, val and test zoos),
    # its shards shared out between the settings' two stage jobs
    assert out.stderr.count("  stage shared work ") == 2 and "4 to submit, 2 shared stage jobs" in out.stderr
    assert "piece 1 of 2" in out.stderr and "piece 2 of 2" in out.stderr
    recs = records(tmp_path / "results")
    assert len(recs) == 4 and all(r["status"] == "ok" for r in recs)
    zoo_seconds = [r["cost"]["stages"]["fit_zoo"]["wall_s"] for r in recs]
    assert max(zoo_seconds) < 1.0  # the runs found their zoos fitted by the stages
    assert len(list((tmp_path / "data" / "zoos").glob("*/shard-*.npz"))) == 3
    again = run_subprocess(sweep_cmd(sweep, "slurm", "--wait"), env, timeout=120)
    assert "4 done or active, 0 to submit, 0 shared stage jobs" in again.stderr
