"""Source kinds behind a small registry. A kind turns archived bytes into raw records (or, for a
register, into DuckDB entries); it never imports another kind."""

from . import (  # noqa: F401  (register the kinds)
    data_inclusion,
    datagouv,
    helloasso,
    mediation_numerique,
    recherche_entreprises,
    rna,
    table,
)
from .base import (
    DEFAULT_LOOKUPS,
    KINDS,
    Kind,
    RawRecord,
    check_spec,
    code_matches,
    get_kind,
    get_parser,
    parse_kind,
    register,
)
from .tabular import FormatError

__all__ = [
    "DEFAULT_LOOKUPS",
    "KINDS",
    "FormatError",
    "Kind",
    "RawRecord",
    "check_spec",
    "code_matches",
    "get_kind",
    "get_parser",
    "parse_kind",
    "register",
]
