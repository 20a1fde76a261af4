"""The package's import graph, parsed with ``ast`` from the source folders: no circle between modules, no
private name imported from another module, and the core (``vgmed_data/``) imports none of builders, annotation,
eval (docs/architecture.md).

Every ``import`` statement counts, at module level and inside functions (a lazy import is still an arrow);
imports under ``if TYPE_CHECKING:`` (annotations only, never run) do not. Importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``, so those count as edges too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"vgmed_data": "vgmed_data", "builders": "vgmed_data.builders", "annotation": "vgmed_data.annotation",
           "eval": "vgmed_data.eval"}
UPPER = ("vgmed_data.builders", "vgmed_data.annotation", "vgmed_data.eval")


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _target(name: str) -> str | None:
    """The longest module of the package that ``name`` (a module or a module attribute) lies in."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every import statement of ``module``."""
    path = MODULES[module]
    package = module if _is_package(module) else module.rpartition(".")[0]
    out = []
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node.test)
                   for child in node.body for inner in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out += [(base, alias.name, node.lineno) for alias in node.names]
    return out


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for base, name, _ in _imports(module):
            target = _target(f"{base}.{name}" if name else base)
            if target is None:
                continue
            parts = target.split(".")
            chain = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}  # parent package __init__s run first
            edges[module] |= {t for t in chain if t in MODULES and t != module and not module.startswith(t + ".")}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_folder() -> None:
    assert {"vgmed_data.cli", "vgmed_data.builders.sources", "vgmed_data.annotation.cli",
            "vgmed_data.eval.run_folder"} <= set(MODULES)
    assert "vgmed_data.builders.entry" in _edges()["vgmed_data.builders.sources"]


def test_no_import_circle_between_modules() -> None:
    assert _cycles(_edges()) == []


def test_no_module_imports_a_private_name_of_another() -> None:
    offenders = [f"{module}:{line} imports {name} from {base}" for module in MODULES
                 for base, name, line in _imports(module)
                 if name and name.startswith("_") and not name.startswith("__") and _target(base) not in (None, module)]
    assert offenders == []


def test_the_core_imports_no_package_above_it() -> None:
    edges = _edges()
    upward = [f"{m} -> {t}" for m in MODULES if not m.startswith(UPPER) for t in sorted(edges[m]) if t.startswith(UPPER)]
    assert upward == []


def _package_of(module: str) -> str | None:
    return next((p for p in UPPER if module == p or module.startswith(p + ".")), None)


def test_builders_annotation_and_eval_do_not_import_each_other() -> None:
    """Each of the three imports only the core; a command that hands work to another names it by string in a
    CLI wiring table (e.g. ``builders/formats.py`` ``FORMATS`` -> ``vgmed_data.eval.harness.cli``)."""
    edges = _edges()
    across = [f"{m} -> {t}" for m in MODULES if _package_of(m) for t in sorted(edges[m])
              if _package_of(t) not in (None, _package_of(m))]
    assert across == []


def test_function_level_imports_are_edges() -> None:
    """The checks see imports inside functions: the harness CLI imports its exporters only when a command runs."""
    assert "vgmed_data.eval.harness.lmms_eval_export" in _edges()["vgmed_data.eval.harness.cli"]
