"""No import circle in wsbench/: every module's imports (at the top or inside a function)
resolved to wsbench modules form a graph without a cycle, so each module can be read, and
loaded, after the ones it needs."""
import ast

from conftest import ROOT

PACKAGE = ROOT / "wsbench"


def module_name(path, base) -> str:
    """wsbench/core/runner.py under `base` -> wsbench.core.runner."""
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(name: str, known: set[str]) -> str | None:
    """The wsbench module an imported name lives in: the name itself, or the longest prefix
    that is a module (`from wsbench.core import params` names wsbench.core.params)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(path, base, known: set[str]) -> set[str]:
    """The wsbench modules a file imports, every Import and ImportFrom node included."""
    here = module_name(path, base)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            if name.startswith("wsbench") and (target := resolve(name, known)) and target != here:
                found.add(target)
    return found


def import_graph(package) -> dict[str, set[str]]:
    """wsbench module -> the wsbench modules it imports."""
    paths = sorted(package.rglob("*.py"))
    known = {module_name(p, package.parent) for p in paths}
    graph = {module_name(p, package.parent): imports_of(p, package.parent, known) for p in paths}
    for module in list(graph):  # importing a.b.c runs a/__init__ and a/b/__init__ first: no edge to report
        graph[module] -= {m for m in graph[module] if module.startswith(m + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_circle_in_wsbench():
    graph = import_graph(PACKAGE)
    assert "wsbench.core.runner" in graph and graph["wsbench.cli"]  # the graph is read, not empty
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_circle_check_can_fail(tmp_path):
    """Two modules that import each other, one of them only inside a function, are found."""
    pkg = tmp_path / "wsbench" / "core"
    pkg.mkdir(parents=True)
    (tmp_path / "wsbench" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from wsbench.core.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from wsbench.core import a\n")
    (pkg / "c.py").write_text("from . import b\n")
    graph = import_graph(tmp_path / "wsbench")
    assert graph["wsbench.core.c"] == {"wsbench.core.b"}  # a relative import resolves too
    assert find_cycle(graph) == ["wsbench.core.a", "wsbench.core.b", "wsbench.core.a"]
