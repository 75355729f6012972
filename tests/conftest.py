import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wsbench.cli import main
from wsbench.data.pointclouds import POINTDA10_CLASSES
from wsbench.core.discovery import discover
from wsbench.core.paths import plugin_dirs

ROOT = Path(__file__).resolve().parent.parent  # the repository


def discover_all(*extra: str):
    """The registry the CLI builds from the repository: shipped plugins plus these folders."""
    return discover(plugin_dirs(ROOT, list(extra)))


@pytest.fixture(scope="session")
def registry():
    return discover_all()


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """A private data root and results folder for one test."""
    data, results = tmp_path / "data", tmp_path / "results"
    monkeypatch.setenv("WSBENCH_DATA", str(data))
    monkeypatch.setenv("WSBENCH_RESULTS", str(results))
    monkeypatch.delenv("WSBENCH_PLUGINS", raising=False)
    return data, results


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code or 0
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def cloud(rng, points: int = 100, columns: int = 3) -> np.ndarray:
    """A random cloud, off-centre and not unit-sized, so that normalisation shows."""
    return (rng.normal(size=(points, columns)) * 3 + 5).astype(np.float32)


def write_class_folders(folder: Path, classes, train: int = 2, test: int = 1, columns: int = 3, seed: int = 0):
    """The PointDA-10 layout <class>/{train,test}/<class>_NNNN.npy with random clouds."""
    rng = np.random.default_rng(seed)
    for name in classes:
        for split, count in (("train", train), ("test", test)):
            (folder / name / split).mkdir(parents=True)
            for i in range(count):
                np.save(folder / name / split / f"{name}_{split}{i:04d}.npy", cloud(rng, columns=columns))


def tiny_shapenet10(cli, folder: Path) -> list[str]:
    """Prepare a ShapeNet10 of random clouds (4 train and 2 test shapes a class, 64 points)
    from `folder`; the data arguments that run on it."""
    write_class_folders(folder, POINTDA10_CLASSES, train=4, test=2)
    assert cli("prepare", "shapenet10", "--from", str(folder), "--data-param", "points=64")[0] == 0
    return ["--dataset", "shapenet10", "--data-param", "points=64", "--data-param", "udf_per_level=16"]


def records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]


def run_subprocess(args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wsbench", *args], env=env, capture_output=True,
                          text=True, **kw)


def pytest_addoption(parser):
    parser.addoption("--update-fingerprints", action="store_true",
                     help="store the current smoke-profile predictions of every method as its fingerprint")
