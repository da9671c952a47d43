"""What every kind shares: the raw record it emits and the registry of kinds.

A kind has a parser (archived bytes -> raw records) and may have a crawler (how its bytes are
fetched: pages of an API, a dataset resolved to its file) and a public endpoint used when the
catalog names no url. A *register* kind (RNA, SIRENE) loads entries into DuckDB instead of
emitting records: registers enrich and verify actors, and enter the map only through the
catalog's ``include`` filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..archive import ArchivedBody
from ..catalog import SourceSpec

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from .context import Context


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
Crawler = Callable[["Context"], ArchivedBody]
# A register loader fills DuckDB table ``table`` with the entries of an archived body and returns
# how many rows were read and how many were malformed.
RegisterLoader = Callable[[SourceSpec, ArchivedBody, "duckdb.DuckDBPyConnection", str], "Loaded"]


@dataclass(frozen=True)
class Loaded:
    rows: int
    rejected: int = 0


@dataclass(frozen=True)
class Register:
    """A register kind: its loader, and how its entries become records (column -> schema field)
    when the catalog's ``include`` filter lets them into the map."""

    load: RegisterLoader
    to_record: dict[str, str]
    record_id: str = "entry_id"


@dataclass(frozen=True)
class Kind:
    name: str
    parse: Parser | None = None
    crawl: Crawler | None = None  # None: fetch ``url`` (a file or one HTTP resource) as it is
    default_url: str | None = None
    register: Register | None = None
    expect: str | None = None  # what the fetched body must be (json, csv, zip…): not an HTML page
    params: dict[str, str] = field(default_factory=dict)  # documented params of the kind
    secrets: tuple[str, ...] = ()  # secret names the kind needs
    # Values of the source format's own code lists that are exactly one of ours (field ->
    # {their value: our code}): published as skos:exactMatch in the code lists.
    matches: dict[str, dict[str, str]] = field(default_factory=dict)
    doc: str = ""


KINDS: dict[str, Kind] = {}
DEFAULT_LOOKUPS: dict[str, dict[str, dict[str, str | None]]] = {}


def register(
    name: str,
    lookups: dict[str, dict[str, str | None]] | None = None,
    **options: Any,
) -> Callable[[Parser], Parser]:
    """Register a parser for a source kind, with the kind's own default value lookups and its
    options (``crawl``, ``default_url``, ``expect``, ``params``, ``secrets``)."""

    def decorate(func: Parser) -> Parser:
        KINDS[name] = Kind(name, parse=func, doc=(func.__doc__ or "").strip(), **options)
        DEFAULT_LOOKUPS[name] = lookups or {}
        return func

    return decorate


def register_register(name: str, register: Register, doc: str, **options: Any) -> None:
    """Register a register kind (entries loaded into DuckDB, not records)."""
    KINDS[name] = Kind(name, register=register, doc=doc.strip(), **options)
    DEFAULT_LOOKUPS[name] = {}


def code_matches() -> dict[str, dict[str, dict[str, str]]]:
    """kind -> field -> {their value: our code}, for every registered kind that declares some."""
    return {name: kind.matches for name, kind in sorted(KINDS.items()) if kind.matches}


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown source kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


def parse_kind(spec: SourceSpec) -> Kind:
    """The kind that reads the bytes: ``parse_as`` for a kind that only fetches (datagouv)."""
    return get_kind(spec.parse_as or spec.kind)


def get_parser(kind: str) -> Parser:
    parser = get_kind(kind).parse
    if parser is None:
        raise KeyError(f"source kind {kind!r} is a register: it loads entries, not records")
    return parser


def check_spec(spec: SourceSpec) -> list[str]:
    """What is wrong with a source for its kind: unknown kind, options it does not take."""
    problems = []
    try:
        kind = get_kind(spec.kind)
        reader = parse_kind(spec)
    except KeyError as exc:
        return [f"source {spec.id}: {exc.args[0]}"]
    if kind.parse is None and kind.register is None and spec.parse_as is None:
        problems.append(f"source {spec.id}: kind {spec.kind} needs parse_as (the file's kind)")
    if spec.url is None and kind.default_url is None:
        problems.append(f"source {spec.id}: kind {spec.kind} needs a url")
    if spec.include is not None and reader.register is None:
        problems.append(f"source {spec.id}: include applies to registers only")
    unknown = sorted(set(spec.params) - set(kind.params))
    if unknown:
        known = ", ".join(sorted(kind.params)) or "none"
        problems.append(
            f"source {spec.id}: kind {spec.kind} takes no param(s) {', '.join(unknown)} "
            f"(known: {known})"
        )
    missing = sorted(set(kind.secrets) - set(spec.secrets))
    if missing:
        problems.append(
            f"source {spec.id}: kind {spec.kind} needs secrets {', '.join(missing)} "
            "(name -> environment variable)"
        )
    return problems
