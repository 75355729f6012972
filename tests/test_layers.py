"""The package's structure: each folder one concern, importing only the layers below it;
light commands import no heavy library; the installed layout carries the shipped plugins."""
import ast
import os
import shutil
import subprocess
import sys
import tomllib

from conftest import ROOT

PACKAGE = ROOT / "wsbench"
# layer -> the layers it may import (besides itself); cli and __main__ sit on top of everything
BELOW = {
    "inr": set(),
    "core": {"inr"},
    "data": {"core", "inr"},
    "models": {"inr"},
    "train": {"core", "inr", "models"},
    "zoo": {"core", "data", "inr", "models", "train"},
    "report": {"core"},
    "cluster": {"core", "report"},
    "api": {"core", "data", "inr", "models", "train", "zoo"},
}


def layer(module: str) -> str:
    """wsbench.core.runner -> core; wsbench.api -> api."""
    return module.split(".")[1] if module.count(".") else module


def imported_modules(path):
    """Every wsbench module a file imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name == "wsbench" or a.name.startswith("wsbench."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wsbench"):
            if node.module == "wsbench":
                yield from (f"wsbench.{a.name}" for a in node.names)
            else:
                yield node.module


def test_no_layer_imports_one_above_it():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if here in ("cli", "__main__", "__init__"):
            continue
        assert here in BELOW, f"{path}: a new top-level module or folder; give it a layer in BELOW"
        for module in imported_modules(path):
            there = layer(module)
            if there != here and there not in BELOW[here]:
                wrong.append(f"{path.relative_to(ROOT)} ({here}) imports {module} ({there})")
    assert not wrong, "\n".join(wrong)


def test_the_layering_check_can_fail(tmp_path):
    bad = tmp_path / "leak.py"
    bad.write_text("from wsbench.core.errors import UserError\n\ndef f():\n    import wsbench.cli\n")
    assert {layer(m) for m in imported_modules(bad)} - BELOW["inr"] == {"core", "cli"}


def past_the_api(paths) -> list[str]:
    """Every import of these plugin files that reaches into wsbench other than through wsbench.api."""
    return [f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name} imports {module}"
            for path in paths for module in imported_modules(path) if module != "wsbench.api"]


def test_shipped_plugins_import_nothing_of_wsbench_but_the_api():
    """The sealed plugin boundary: shipped methods (the template included) and data sets
    import wsbench.api alone, so the package behind it can move without breaking a plugin."""
    plugins = sorted([*(ROOT / "methods").glob("*.py"), *(ROOT / "datasets").glob("*.py")])
    assert any(p.name == "template_method.py" for p in plugins) and len(plugins) > 10
    leaks = past_the_api(plugins)
    assert not leaks, "\n".join(leaks)


def test_the_plugin_boundary_check_can_fail(tmp_path):
    bad = tmp_path / "leaky_method.py"
    bad.write_text("from wsbench.api import Method\nfrom wsbench import api\nimport wsbench\n\n"
                   "def build():\n    from wsbench.models.dwsnet import DWSNet\n")
    assert past_the_api([bad]) == ["leaky_method.py imports wsbench", "leaky_method.py imports wsbench.models.dwsnet"]


def test_the_manual_names_every_api_name_and_no_other():
    """docs/adding-a-method.md lists the API's names: the list and wsbench.api agree."""
    import re

    import wsbench.api
    text = (ROOT / "docs" / "adding-a-method.md").read_text()
    listed = text[text.index("Its names:"):text.index("tuning constants")]
    assert set(re.findall(r"`(\w+)`", listed)) == set(wsbench.api.__all__)
    assert all(hasattr(wsbench.api, name) for name in wsbench.api.__all__)


def test_pyproject_lists_every_package_and_maps_the_shipped_plugins():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert folders <= set(config["packages"]), folders - set(config["packages"])
    assert config["package-dir"] == {"wsbench.shipped.methods": "methods", "wsbench.shipped.datasets": "datasets"}


def loaded_after(args: list[str], cwd) -> set[str]:
    code = ("import sys\nfrom wsbench.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(m for m in ('matplotlib', 'sklearn', 'submitit', 'torch_geometric') "
            "if m in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(out.stderr.strip().splitlines()[-1].split()) if out.stderr.strip() else set()


def test_help_and_list_import_no_heavy_library(tmp_path):
    assert loaded_after(["--help"], tmp_path) == set()
    assert loaded_after(["list"], ROOT) == set()


def test_an_installed_wsbench_lists_its_plugins_from_any_folder(tmp_path):
    """The wheel's layout (pyproject.toml maps methods/ and datasets/ into wsbench/shipped/),
    run from an empty folder: every shipped plugin is listed, and --plugins adds a user's."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "wsbench", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("methods", "datasets"):
        shutil.copytree(ROOT / folder, site / "wsbench" / "shipped" / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    mine = tmp_path / "mine"
    mine.mkdir()
    template = (ROOT / "methods" / "template_method.py").read_text()
    (mine / "my_method.py").write_text(template.replace('name = "template"', 'name = "mine"'))
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "WSBENCH_DATA": str(tmp_path / "data")}
    env.pop("WSBENCH_PLUGINS", None)
    listing = subprocess.run([sys.executable, "-m", "wsbench", "list"], cwd=empty, env=env, capture_output=True,
                             text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    shipped = sorted(p.stem.replace("_", "-") for p in (ROOT / "methods").glob("*.py")
                     if not p.name.startswith("template"))
    for name in [*shipped, "digits", "mnist", "fashion-mnist", "modelnet40", "shapenet10", "scannet10", "synthetic"]:
        assert f"  {name} " in listing.stdout, (name, listing.stdout)
    assert "broken" not in listing.stdout and "mine" not in listing.stdout
    more = subprocess.run([sys.executable, "-m", "wsbench", "--plugins", str(mine), "list"], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=120)
    assert more.returncode == 0 and "  mine " in more.stdout, more.stderr
    (empty / "methods").mkdir()  # a project folder's own methods/ adds to the shipped ones too
    shutil.copy(mine / "my_method.py", empty / "methods")
    project = subprocess.run([sys.executable, "-m", "wsbench", "list"], cwd=empty, env=env, capture_output=True,
                             text=True, timeout=120)
    assert "  mine " in project.stdout and "  hyperinr " in project.stdout, project.stderr
