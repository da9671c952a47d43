"""What every kind shares: the raw record it emits and the registry of kinds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..archive import ArchivedBody
from ..catalog import SourceSpec


@dataclass
class RawRecord:
    """One row of a source, its fields already named as in the schema but not yet validated.

    ``raw`` keeps the row as the source wrote it, for quarantine: nothing is lost.
    """

    record_id: str | None
    fields: dict[str, Any]
    raw: dict[str, Any]
    row_number: int
    notes: list[tuple[str, str]] = field(default_factory=list)  # (field, message) warnings


Parser = Callable[[SourceSpec, ArchivedBody], Iterator[RawRecord]]

KINDS: dict[str, Parser] = {}
DEFAULT_LOOKUPS: dict[str, dict[str, dict[str, str | None]]] = {}


def register(name: str, lookups: dict[str, dict[str, str | None]] | None = None):
    """Register a parser for a source kind, with the kind's own default value lookups."""

    def decorate(func: Parser) -> Parser:
        KINDS[name] = func
        DEFAULT_LOOKUPS[name] = lookups or {}
        return func

    return decorate


def get_parser(kind: str) -> Parser:
    try:
        return KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown source kind {kind!r}; known: {', '.join(sorted(KINDS))}") from None
