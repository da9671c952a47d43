"""One-way imports between the rooms of the code (see README, Architecture)."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

PKG = ROOT / "pana_data"

# Room -> the rooms of the project it may import (besides itself).
ALLOWED = {
    "schema": set(),
    "archive": set(),
    "catalog": {"schema"},
    "http": {"archive", "__init__"},
    "harvest": {"archive", "catalog", "http", "sources"},
    "sources": {"archive", "catalog", "http", "schema"},
    "validate": {"archive", "catalog", "schema", "sources"},
    "store": {"archive", "schema"},
    "registers": {"archive", "catalog", "schema", "sources", "store", "validate"},
    "geocode": {"catalog", "http"},
    "dedup": {"store", "schema"},
    "rdf": {"schema"},
    "publish": {"rdf", "schema"},
    "artifacts": {"catalog", "rdf", "schema", "sources"},
    "sparql": {"rdf"},  # the endpoint reads published files, with the mapping's prefixes
    "runs": set(),  # run reports: last_run.json and a version folder, read as files
}
SHARED_IN_SOURCES = {"base", "context", "tabular", "__init__"}


def room_of(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def project_imports(path: Path) -> set[tuple[str, ...]]:
    """Imported project modules as tuples of parts below pana_data."""
    tree = ast.parse(path.read_text())
    module_parts = list(path.relative_to(PKG).with_suffix("").parts)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "pana_data":
                    found.add(tuple(parts[1:]) or ("__init__",))
                if parts[0] in ("prefect", "flows"):
                    found.add((parts[0], "!external"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module_parts[: len(module_parts) - node.level]
                if node.module:
                    found.add(tuple(base + node.module.split(".")))
                elif not base:  # `from . import x` at the package root: its __init__
                    found.add(("__init__",))
                else:
                    found.update(tuple(base + [alias.name]) for alias in node.names)
            elif node.module:
                parts = node.module.split(".")
                if parts[0] == "pana_data":
                    found.add(tuple(parts[1:]) or ("__init__",))
                if parts[0] in ("prefect", "flows"):
                    found.add((parts[0], "!external"))
    return found


def test_library_never_imports_prefect_or_flows_statically():
    for path in PKG.rglob("*.py"):
        for parts in project_imports(path):
            assert parts[-1] != "!external", f"{path} imports {parts[0]}"


def test_library_never_imports_prefect_at_runtime():
    code = (
        "import importlib, pkgutil, sys, pana_data\n"
        "for m in pkgutil.walk_packages(pana_data.__path__, 'pana_data.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('prefect', 'flows'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_rooms_import_one_way():
    problems = []
    for path in PKG.rglob("*.py"):
        room = room_of(path)
        if room not in ALLOWED:
            continue  # pipeline, cli: the top of the library may use every room
        for parts in project_imports(path):
            target = parts[0]
            if target in (room, "!external"):
                continue
            if target not in ALLOWED[room]:
                problems.append(f"{path.relative_to(ROOT)} imports {'.'.join(parts)}")
    assert problems == []


def test_kinds_never_import_each_other():
    kinds = [p for p in (PKG / "sources").glob("*.py") if p.stem not in SHARED_IN_SOURCES]
    assert {p.stem for p in kinds} >= {"table", "mediation_numerique"}
    for path in kinds:
        for parts in project_imports(path):
            if parts[0] == "sources" and len(parts) > 1:
                assert parts[1] in SHARED_IN_SOURCES, f"{path.name} imports {parts}"
