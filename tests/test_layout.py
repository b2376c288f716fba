"""The package's layout keeps the flow one-way: a step imports only steps below it, and no module
imports itself back through others (docs/architecture.md names the steps and their order)."""

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "reasoner"

# Lower numbers are earlier in the flow. A module may import its own step or a lower one.
RANK = {
    "errors": 0, "paths": 0, "__init__": 0,
    "record": 1,
    "fhir": 2, "logic": 2,
    "verdict": 3,
    "explain": 4, "pipeline": 4,
    "render": 5,
    "screen": 6, "authoring": 6,
    "cli": 7, "__main__": 8,
}
TOP_LEVEL_MAX = 6
# Known upward edges, each to be removed, never added to. None left: attestation references are
# checked against a criteria catalogue the pipeline passes to validation.
KNOWN_UPWARD = set()


def _module_name(path):
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """Every reasoner module a file imports, at top level or inside a function."""
    name = _module_name(path)
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("reasoner"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("reasoner"))
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    return {t for t in found if t in modules and t != name}


def _step(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _graph():
    graph = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        graph.add_node(_module_name(path))
        for target in _imports(path):
            graph.add_edge(_module_name(path), target)
    return graph


def test_every_step_has_a_rank():
    steps = {_step(m) for m in _graph().nodes}
    assert steps <= set(RANK), f"steps without a place in the flow: {sorted(steps - set(RANK))}"


def test_no_step_imports_a_later_one():
    upward = [(a, b) for a, b in _graph().edges
              if _step(b) != "__init__" and RANK[_step(a)] < RANK[_step(b)]]
    assert set(upward) == KNOWN_UPWARD


def test_no_import_cycles():
    graph = _graph()
    # a package importing from its own __init__ is not a cycle worth naming
    cycles = [c for c in nx.simple_cycles(graph) if len(c) > 1]
    assert cycles == []


def test_top_level_stays_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= TOP_LEVEL_MAX, top


def test_each_subpackage_says_what_it_takes_and_gives():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 15, f"{init} needs a docstring: what the step takes, gives, must not know"
