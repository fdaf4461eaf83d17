"""The shape of the code, checked from its source: no import cycle among the project's modules (imports inside
functions count too), the pipeline one-way (rag/ never imports ui/ or eval/), Chroma only in store.py, the
environment only in settings.py, llama-index's LLM types only in llm.py, nothing under rag/ but the faces'
entry points imports the Engine, and no module of rag/ much over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("rag", "ui", "eval")
MAX_LINES = 420  # "under ~400 lines"
ENGINE_USERS = {"rag", "rag.cli"}  # the public API and the CLI face may build the Engine


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).glob("*.py")):
            name = pkg if path.stem == "__init__" else f"{pkg}.{path.stem}"
            out[name] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that `name` imports anywhere in its source (top level or inside functions)."""
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            subs = [f"{base}.{a.name}" for a in node.names]
            # "from . import citations" depends on rag.citations, not on the package's __init__
            targets = subs + ([base] if any(t not in known for t in subs) else [])
        else:
            continue
        for t in targets:
            # "rag.types.Hit" → "rag.types"; "rag" itself is the package's __init__
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_cycles__finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports__resolves_relative_and_function_level_imports():
    g = graph()
    assert "rag.text" in g["rag.retrieve"]  # from .text import query_terms
    assert "rag.citations" in g["rag.answer"]  # from . import citations as cite
    assert "rag.engine" in g["rag"]


def test_no_import_cycle_among_the_project_modules():
    assert cycles(graph()) == []


def test_the_library_never_imports_its_faces():
    bad = {m: sorted(d for d in deps if d.split(".")[0] in ("ui", "eval"))
           for m, deps in graph().items() if m.split(".")[0] == "rag"}
    assert {m: d for m, d in bad.items() if d} == {}


def test_nothing_under_rag_but_the_entry_points_imports_the_engine():
    users = {m for m, deps in graph().items() if "rag.engine" in deps and m.startswith("rag")}
    assert users <= ENGINE_USERS, users - ENGINE_USERS


@pytest.mark.parametrize("needle, allowed", [
    ("chromadb", {"rag.store"}),
    ("os.environ", {"rag.settings"}),
    ("llama_index.core.llms", {"rag.llm"}),
    ("llama_index.llms", {"rag.llm"}),
])
def test_one_module_owns_each_outside_world(needle, allowed):
    users = {m for m, path in modules().items() if m.startswith("rag") and needle in path.read_text()}
    assert users <= allowed, f"{needle} used in {sorted(users - allowed)}"


def test_modules_of_rag_stay_small():
    sizes = {m: len(p.read_text().splitlines()) for m, p in modules().items() if m.startswith("rag")}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}
