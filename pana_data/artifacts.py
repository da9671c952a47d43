"""Every derived artifact generated from the models, with where it is committed.

``pana schema generate`` writes them; ``pana schema check`` (and a test) fails when a committed
copy is stale.
"""

from __future__ import annotations

from pathlib import Path

from .rdf import codelists_graph
from .schema.generate import artifacts as schema_artifacts


def generated() -> dict[str, str]:
    texts = dict(schema_artifacts())
    texts["vocab/codelists.ttl"] = codelists_graph().serialize(format="longturtle")
    return texts


def write(root: Path) -> list[Path]:
    written = []
    for rel, text in generated().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(root: Path) -> list[str]:
    """Relative paths whose committed copy differs from a fresh generation."""
    out = []
    for rel, text in generated().items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(rel)
    return out
