"""Source kinds behind a small registry. A kind turns archived bytes into raw records; it never
imports another kind."""

from . import mediation_numerique, table  # noqa: F401  (register the kinds)
from .base import DEFAULT_LOOKUPS, KINDS, RawRecord, get_parser, register
from .tabular import FormatError

__all__ = ["DEFAULT_LOOKUPS", "KINDS", "FormatError", "RawRecord", "get_parser", "register"]
