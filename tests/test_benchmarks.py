"""The training-throughput benchmark measures a positive rate and compares against a commit
in a worktree it removes afterwards."""
import argparse
import importlib.util
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worktrees() -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=REPO, capture_output=True, text=True).stdout


def test_step_rates_are_positive_and_unmeasurable_cells_say_why(bench):
    rates = bench.measure(REPO, ["flat-mlp", "pointnet"], ["mnist", "modelnet40"], "smoke", 0.05, 2, 1, {})
    for shape in ("mnist", "modelnet40"):
        assert rates["flat-mlp"][shape]["how"] == "step" and rates["flat-mlp"][shape]["rate"] > 0
    assert rates["pointnet"]["modelnet40"]["how"] == "step" and rates["pointnet"]["modelnet40"]["rate"] > 0
    assert rates["pointnet"]["mnist"]["rate"] is None and "image" in rates["pointnet"]["mnist"]["note"]


def test_against_measures_both_trees_method_by_method_and_removes_the_worktree(bench):
    before = worktrees()
    args = argparse.Namespace(shape="mnist", seconds=0.05, threads=1, profile="smoke", per_class=2, param=[])
    now, then = bench.interleaved("HEAD", args, ["flat-mlp", "dwsnet"], ["mnist"])
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    assert then["commit"] == head.stdout.strip()
    for rates in (now["rates"], then["rates"]):
        assert set(rates) == {"flat-mlp", "dwsnet"}
        assert all(rates[m]["mnist"]["rate"] > 0 for m in rates)
    assert worktrees() == before


def test_a_param_reaches_the_methods_that_declare_it(bench, registry):
    """--param network=authors times NFN's authors' network and leaves flat-mlp, which has no
    such parameter, at its profile."""
    settings = {"network": "authors"}
    assert bench.profile_params(registry.method("nfn"), "smoke", "mnist", overrides=settings)["network"] == "authors"
    assert "network" not in bench.profile_params(registry.method("flat-mlp"), "smoke", "mnist", overrides=settings)
    rates = bench.measure(REPO, ["nfn", "flat-mlp"], ["mnist"], "smoke", 0.05, 2, 1, settings)
    assert all(rates[m]["mnist"]["rate"] > 0 for m in rates), rates


GPU_CHECK = REPO / "benchmarks" / "gpu_check.sh"


def gpu_check(out: Path, **env: str) -> subprocess.CompletedProcess:
    import os
    import sys
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith(("WSBENCH_", "GPU_CHECK_"))},
                   "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(["bash", str(GPU_CHECK), str(out)], cwd=REPO, env=environment, capture_output=True,
                          text=True, timeout=600)


def test_gpu_check_refuses_a_machine_without_cuda(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot be shown here")
    done = gpu_check(tmp_path / "out")
    assert done.returncode == 69 and "no CUDA device" in done.stderr
    assert not (tmp_path / "out" / "results").exists()


def test_gpu_check_rehearsal_on_the_cpu_runs_a_smoke_profile_and_summarises(tmp_path):
    done = gpu_check(tmp_path / "out", GPU_CHECK_DEVICE="cpu", GPU_CHECK_METHODS="flat-mlp")
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert done.returncode == 0, summary
    assert summary.startswith("ok      smoke-flat-mlp") and "skipped the quick MNIST runs" in summary
    assert len(list((tmp_path / "out" / "results" / "runs").glob("*.json"))) == 1
