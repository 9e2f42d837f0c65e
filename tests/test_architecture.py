"""The house: the layers of docs/architecture.md hold, no subpackage imports upwards, no cycles.

Every ``import`` of an rnnscope module is read from the source (module level and inside functions
alike: a function-level import is a dependency too), except those under ``if TYPE_CHECKING:``
(annotations only). The test fails on any new edge that goes against the layers.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

import pytest

import rnnscope

ROOT = Path(rnnscope.__file__).parent

#: bottom to top; a subpackage may import from its own layer's leaves and from every layer below.
LAYERS: list[set[str]] = [
    {"errors", "_validation", "_threads", "_version"},  # leaves
    {"numerics"},
    {"tasks"},
    {"dynamics"},
    {"models"},
    {"training"},
    {"analysis"},
    {"data"},
    {"theory"},
    {"systems"},
    {"plotting"},
    {"experiments"},
    {"runs"},  # the application: run folders, reports, loaders
    {"cli"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _unit(path: Path) -> str:
    """The subpackage (or root-level module) a file belongs to."""
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else ("<root>" if rel.stem == "__init__" else rel.stem)


def _imports(path: Path) -> list[tuple[str, int]]:
    """(target unit, line) of every relative import of an rnnscope module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    package = path.parent.relative_to(ROOT).parts
    out = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            parts = list(base) + (node.module.split(".") if node.module else [])
            if not parts:  # "from .. import x": x is a subpackage or module of the root
                out.extend((alias.name, node.lineno) for alias in node.names)
            else:
                out.append((parts[0], node.lineno))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name == "rnnscope" or name.startswith("rnnscope."):
                    pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} imports {name} absolutely; use a relative import")
    return out


def _graph() -> dict[str, dict[str, list[str]]]:
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        src = _unit(path)
        for target, line in _imports(path):
            if target != src:
                edges[src][target].append(f"{path.relative_to(ROOT)}:{line}")
    return edges


def test_every_subpackage_has_a_layer():
    units = {_unit(p) for p in ROOT.rglob("*.py")} - {"<root>"}
    assert units <= set(LEVEL), f"subpackages without a layer in this test: {sorted(units - set(LEVEL))}"


def test_no_subpackage_imports_upwards():
    bad = []
    for src, targets in _graph().items():
        if src == "<root>":  # the facade re-exports from anywhere; nothing imports it
            continue
        for target, where in targets.items():
            if target == "<root>" or target not in LEVEL:
                bad.append(f"{src} -> rnnscope.{target} ({', '.join(where)}): import the module itself, not the root")
            elif LEVEL[target] >= LEVEL[src] and target not in LAYERS[0]:
                bad.append(f"{src} (layer {LEVEL[src]}) -> {target} (layer {LEVEL[target]}) at {', '.join(where)}")
    assert not bad, "imports against the layers of docs/architecture.md:\n" + "\n".join(bad)


def test_no_import_cycle_between_subpackages():
    graph = {src: set(t) for src, t in _graph().items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)


def test_the_library_never_imports_the_application():
    for src, targets in _graph().items():
        if src in ("runs", "cli", "<root>"):
            continue
        assert "runs" not in targets and "cli" not in targets, f"{src} imports the application: {dict(targets)}"


def _public_names(module) -> list[str]:
    return list(getattr(module, "__all__", []))


SUBPACKAGES = sorted(set(LEVEL) - LAYERS[0] - {"cli"} | {"errors"})


def test_every_public_name_has_one_home():
    """No object is listed in the ``__all__`` of two subpackages (the root facade aside); two
    different objects may share a name in two namespaces (``tasks.available``, ``experiments.available``)."""
    homes: dict[int, list[str]] = defaultdict(list)
    for name in SUBPACKAGES:
        module = importlib.import_module(f"rnnscope.{name}")
        for public in _public_names(module):
            obj = getattr(module, public)
            if isinstance(obj, (int, float, str, tuple, frozenset)):  # constants compare by value
                continue
            homes[id(obj)].append(f"{name}.{public}")
    twice = [v for v in homes.values() if len(v) > 1]
    assert not twice, f"objects listed in several subpackages: {twice}"


@pytest.mark.parametrize("name", SUBPACKAGES + [""])
def test_namespaces_are_curated(name):
    """Each ``__all__`` lists names the package has, each once."""
    module = importlib.import_module("rnnscope" + (f".{name}" if name else ""))
    public = _public_names(module)
    assert public, f"rnnscope.{name} has no __all__"
    assert len(public) == len(set(public)), f"rnnscope.{name}.__all__ lists a name twice"
    missing = [p for p in public if not hasattr(module, p)]
    assert not missing, f"rnnscope.{name}.__all__ lists names it lacks: {missing}"


def test_every_exception_lives_in_errors():
    import rnnscope.errors as errors

    own = {obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, BaseException)}
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and path.name != "errors.py":
                bases = {ast.unparse(b) for b in node.bases}
                assert not any("Error" in b or "Exception" in b for b in bases), (
                    f"{path.relative_to(ROOT)} defines the exception {node.name}; put it in rnnscope/errors.py")
    assert len(own) >= 5


def test_analyses_ask_the_contract_not_the_class():
    """``isinstance`` in analysis/ and theory/ names no concrete model class (the fits that are about
    one model, such as ``fit_wong_wang``, may check their model)."""
    import rnnscope.models as models

    concrete = {name for name, obj in vars(models).items()
                if isinstance(obj, type) and issubclass(obj, models.AbstractRNN) and obj is not models.AbstractRNN}
    allowed = {("decisions.py", "WongWang")}  # fit_wong_wang and simulate_decisions: Wong-Wang's own fits
    bad = []
    for folder in ("analysis", "theory"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance" and len(node.args) == 2:
                    named = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                    for cls in named & concrete:
                        if (path.name, cls) not in allowed:
                            bad.append(f"{path.relative_to(ROOT)}:{node.lineno} isinstance(..., {cls})")
    assert not bad, "analyses that ask the class instead of the contract:\n" + "\n".join(bad)
