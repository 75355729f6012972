"""One contract test per method (benchopt style: a broken method does not hide the others),
and the guard behind plugin versions: a method's smoke-profile predictions on `synthetic`
(one thread) must equal its stored fingerprint unless its `version` was bumped.

After an intended change of numbers: bump `version` in the plugin, then
`pytest tests/test_contract.py --update-fingerprints` and commit tests/fingerprints.json.
"""
import json

import numpy as np
import pytest

from conftest import ROOT, discover_all, records, tiny_shapenet10

from wsbench.core.fileio import atomic_write_json, sha256_bytes
from wsbench.core.params import with_legacy

FINGERPRINTS = ROOT / "tests" / "fingerprints.json"
REGISTRY = discover_all()


def fingerprint(pred_file) -> str:
    with np.load(pred_file) as kept:
        return sha256_bytes(b"".join(k.encode() + kept[k].tobytes() for k in sorted(kept.files)))


def stored() -> dict:
    return json.loads(FINGERPRINTS.read_text()) if FINGERPRINTS.is_file() else {"methods": {}, "datasets": {}}


def update(kind: str, name: str, entry: dict) -> None:
    doc = stored()
    doc[kind][name] = entry
    atomic_write_json(FINGERPRINTS, doc)


def smoke_data(cls, cli, tmp_path) -> list[str]:
    """The data of a method's contract run: `synthetic`, or for a method of shapes only a tiny
    ShapeNet10 of random clouds, prepared in the test's data root."""
    return ["--dataset", "synthetic"] if "image" in cls.modalities else tiny_shapenet10(cli, tmp_path / "src")


def check_contract(cls, cli, results, monkeypatch, data_args: list[str], plugins: tuple[str, ...] = ()) -> dict:
    """Run a method's `smoke` profile on `data_args` and check what the contract promises;
    the record."""
    name = cls.name
    assert {"quick", "paper", "smoke"} <= set(cls.profiles), name
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the run's process: one thread, so sums are reproducible
    extra = [arg for folder in plugins for arg in ("--plugins", folder)]
    code, out, err = cli(*extra, "run", "--method", name, *data_args, "--profile", "smoke", "--quiet")
    (rec,) = records(results)
    assert code == 0 and rec["status"] == "ok", rec.get("error", err)
    assert rec["heads"] and rec["cost"]["threads"] == 1
    for head, s in rec["heads"].items():
        assert 0 <= s["test_acc"] <= 1 and 1 <= s["best_epoch"] <= s["epochs"]
        assert f"{100 * s['test_acc']:.2f} ± –" in out
    cost = rec["cost"]
    assert cost["wall_s"] > 0 and cost["cpu_s"] > 0 and cost["peak_rss_mb"] > 0
    assert cost["pipeline_wall_s"] >= cost["wall_s"] - sum(s["here_wall_s"] for s in cost["shared"].values())
    assert (results / rec["labels"]["file"]).is_file()
    prov = rec["provenance"]
    assert prov["data_checksums"] and prov["packages"]["torch"] and "commit" in prov["code"]
    assert cli(*extra, "verify")[0] == 0
    return rec


@pytest.mark.parametrize("name", sorted(REGISTRY.methods))
def test_method_contract_and_fingerprint(name, dirs, cli, monkeypatch, request, tmp_path):
    """The method's `smoke` profile yields a scored, checked record; its predictions match
    the stored fingerprint of its version."""
    _, results = dirs
    cls = REGISTRY.methods[name]
    rec = check_contract(cls, cli, results, monkeypatch, smoke_data(cls, cli, tmp_path))
    entry = {"version": cls.version, "predictions_sha256": fingerprint(results / rec["predictions"]["file"])}
    if request.config.getoption("--update-fingerprints"):
        update("methods", name, entry)
    known = stored()["methods"].get(name)
    assert known is not None, f"no fingerprint for {name}: run pytest --update-fingerprints and commit it"
    if known["version"] == cls.version:
        assert known == entry, (f"{name}'s smoke predictions changed but its version is still {cls.version}: "
                                f"bump `version` in {REGISTRY.sources[f'method:{name}']} and run "
                                f"pytest tests/test_contract.py --update-fingerprints")
    else:
        pytest.fail(f"{name} is at version {cls.version}, its fingerprint at {known['version']}: "
                    f"run pytest tests/test_contract.py --update-fingerprints")


@pytest.mark.parametrize("name", sorted(n for n, c in REGISTRY.datasets.items() if not c.needs_prepare))
def test_built_in_data_set_fingerprint(name, tmp_path, request):
    """Data sets that need no preparation load the same arrays unless their version moves."""
    from wsbench.core.params import resolve
    cls = REGISTRY.datasets[name]
    entry = {"version": cls.version, "checksums": cls().load(tmp_path, resolve(cls, {})).checksums}
    if request.config.getoption("--update-fingerprints"):
        update("datasets", name, entry)
    known = stored()["datasets"].get(name)
    assert known is not None and known["version"] == cls.version, "run pytest --update-fingerprints"
    assert known == entry, f"{name} loads different data at version {cls.version}: bump its version"


def documented_example() -> str:
    """The complete example method of the manual (docs/adding-a-method.md): the code block after its marker."""
    text = (ROOT / "docs" / "adding-a-method.md").read_text()
    after = text.split("<!-- example method: tests/test_contract.py runs it -->", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_example_method_passes_the_contract(tmp_path, dirs, cli, monkeypatch):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "example.py").write_text(documented_example())
    reg = discover_all(str(folder))
    assert not reg.broken, reg.broken
    (name,) = set(reg.methods) - set(REGISTRY.methods)
    rec = check_contract(reg.methods[name], cli, dirs[1], monkeypatch, ["--dataset", "synthetic"],
                         plugins=(str(folder),))
    assert rec["embeddings"]["width"] == {"projection": 8}  # its head's features, checked and kept


# The parameters that set how long a method trains: one step (or epoch) each in the paper-profile test.
BUDGET = ("epochs", "meta_steps", "head_epochs", "inr_steps", "fit_steps", "evals", "max_iter")


@pytest.mark.parametrize("name", sorted(REGISTRY.methods))
def test_paper_profile_takes_a_step_on_the_cpu(name, dirs, cli, monkeypatch, tmp_path):
    """Every method's `paper` profile (the published configuration, sized for a GPU) runs one
    step of each stage on tiny data on the CPU, so a typo in it shows here, not in a GPU
    user's first job."""
    _, results = dirs
    cls = REGISTRY.methods[name]
    budget = [arg for key in BUDGET if key in cls.params for arg in ("--param", f"{key}=1")]
    data = (["--dataset", "synthetic", "--data-param", "per_class=4", "--data-param", "size=4"]
            if "image" in cls.modalities
            else tiny_shapenet10(cli, tmp_path / "src"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    code, _, err = cli("run", "--method", name, *data, "--profile", "paper", *budget, "--quiet", "--device", "cpu")
    (rec,) = records(results)
    assert code == 0 and rec["status"] == "ok", rec.get("error", err)
    paper = {key: value for key, value in cls.profiles["paper"].items() if key not in BUDGET}
    ran = with_legacy(cls.params, rec["params"])  # a record leaves out parameters at their legacy value
    assert rec["profile"] == "paper" and {key: ran[key] for key in paper} == paper
