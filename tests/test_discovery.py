import os
import subprocess
import sys

from conftest import ROOT, discover_all



def test_repository_plugins_are_found_and_template_is_not(registry):
    assert {"hyperinr"} <= set(registry.methods)
    assert {"digits", "mnist", "fashion-mnist", "synthetic"} <= set(registry.datasets)
    assert "template" not in registry.methods
    assert not registry.broken


def test_broken_plugin_is_listed_and_others_still_work(tmp_path, cli, dirs):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "bad.py").write_text("import no_such_module_xyz\n")
    code, out, _ = cli("--plugins", str(tmp_path / "plugins"), "list")
    assert code == 0
    assert "hyperinr" in out
    assert "broken plugin" in out and "bad.py" in out and "no_such_module_xyz" in out


def test_extra_plugin_folder_from_environment(tmp_path, monkeypatch):
    folder = tmp_path / "more"
    folder.mkdir()
    template = (ROOT / "methods" / "template_method.py").read_text()
    (folder / "mine.py").write_text(template.replace('name = "template"', 'name = "mine"'))
    monkeypatch.setenv("WSBENCH_PLUGINS", str(folder))
    assert "mine" in discover_all().methods


def test_import_datasets_is_not_the_local_plugin_folder(tmp_path):
    """With a real `datasets` package installed, running from the repository root
    still imports that package: the plugin folder is no package and is never
    put on sys.path by wsbench."""
    site = tmp_path / "site" / "datasets"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("MARKER = 'package index datasets'\n")
    assert not (ROOT / "datasets" / "__init__.py").exists()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    code = ("import wsbench.core.discovery as d, wsbench.core.paths as p; d.discover(p.plugin_dirs(p.project_root())); "
            "import datasets; "
            "print(datasets.MARKER, datasets.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("package index datasets")
    assert str(ROOT / "datasets") not in out.stdout


def test_wsbench_is_the_only_installed_top_level_package():
    """methods/ and datasets/ are installed inside the package (wsbench/shipped/), never as
    top-level `methods` or `datasets` packages that would shadow the package index's."""
    import tomllib
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert {p.split(".")[0] for p in packages} == {"wsbench"}
