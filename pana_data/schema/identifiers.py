"""Pure checks and normalisers for identifiers and contact fields.

Each function takes what a source gave (often messy) and returns the canonical form, ``None`` for
an empty or placeholder value, or raises ``ValueError`` with a reason a maintainer can act on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from stdnum.fr import siren as _siren
from stdnum.fr import siret as _siret

# Placeholders that mean "unknown" in the LaMednum pivot and in partner files.
PLACEHOLDER_SIRET = "00000000000000"
PLACEHOLDER_RNA = "W000000000"

# Real RNA numbers: W + 9 characters, the third may be a letter (Corsica 2A/2B, Mayotte 9T…).
RNA_RE = re.compile(r"^W[0-9][0-9A-Z][0-9]{7}$")
POSTCODE_RE = re.compile(r"^\d{5}$")
INSEE_RE = re.compile(r"^([013-9]\d|2[AB1-9])\d{3}$")
# Départements, then overseas collectivities that have postcodes (975, 977, 978, 986-988).
DEPARTEMENT_RE = re.compile(r"^(0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-8]|98[678])$")
# E.164 numbers accepted by the LaMednum standard (metropolitan and overseas prefixes).
PHONE_RE = re.compile(r"^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)\d{6,9}$")
# Organisational addresses as they are written in practice; nothing that would break a mailto IRI.
# Letters of hostnames and addresses: ASCII plus Latin accents (internationalised domains). Written
# as explicit ranges, not \w, so the published JSON Schema means the same in ECMA-262 validators.
_L = "A-Za-z0-9\u00c0-\u024f"
# Organisational addresses as they are written in practice; nothing that would break a mailto IRI.
EMAIL_RE = re.compile(rf"^[{_L}._%+'&/=-]+@[{_L}-]+(\.[{_L}-]+)*\.[A-Za-z]{{2,}}$")
# http(s), optional user, a dotted host (optional trailing dot), optional port, then no character
# that an IRI forbids (clean_url percent-encodes them first).
URL_RE = re.compile(
    rf'^https?://([^@/\s]+@)?[{_L}-]+(\.[{_L}-]+)+\.?(:\d+)?([/?#][^\s"<>{{}}|\\^`]*)?$'
)
# Characters that are common in pasted links but not allowed in an IRI: percent-encoded.
_IRI_UNSAFE = {c: f"%{ord(c):02X}" for c in ' "<>{}|\\^`'}

# National 10-digit numbers whose prefix belongs to an overseas département.
_OVERSEAS_PREFIXES = {
    "0590": "+590",
    "0690": "+590",
    "0691": "+590",
    "0594": "+594",
    "0694": "+594",
    "0596": "+596",
    "0696": "+596",
    "0697": "+596",
    "0262": "+262",
    "0263": "+262",
    "0692": "+262",
    "0693": "+262",
    "0269": "+262",
    "0639": "+262",
}


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _as_text(value: object) -> str:
    """Spreadsheet cells arrive as numbers: 87000.0 -> '87000'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def cleaner(func: Callable[[str], str | None]) -> Callable[[object], str | None]:
    """Wrap a cleaner of non-empty text: ``None``, blank cells and spreadsheet floats are
    handled once here."""

    @functools.wraps(func)
    def clean(value: object) -> str | None:
        if value is None:
            return None
        text = _as_text(value)
        return func(text) if text else None

    return clean


def _clean_sirene(text: str, name: str, length: int, is_valid: Callable[[str], bool]) -> str | None:
    """SIRET/SIREN: digits only, all-zero placeholders are unknown, Luhn (La Poste excepted)."""
    text = text.replace(" ", "").replace("\u00a0", "")
    if set(text) == {"0"}:
        return None
    if not re.fullmatch(rf"\d{{{length}}}", text):
        raise ValueError(f"{name} must have {length} digits, got {text!r}")
    if not is_valid(text):
        raise ValueError(f"{name} {text} fails the Luhn check")
    return text


@cleaner
def clean_siret(text: str) -> str | None:
    return _clean_sirene(text, "SIRET", 14, _siret.is_valid)


@cleaner
def clean_siren(text: str) -> str | None:
    return _clean_sirene(text, "SIREN", 9, _siren.is_valid)


@cleaner
def clean_rna(text: str) -> str | None:
    text = text.replace(" ", "").upper()
    if text == PLACEHOLDER_RNA:
        return None
    if not RNA_RE.fullmatch(text):
        raise ValueError(f"RNA number must be W followed by 9 characters, got {text!r}")
    return text


@cleaner
def clean_postcode(text: str) -> str | None:
    text = text.replace(" ", "")
    if re.fullmatch(r"\d{4}", text):  # a spreadsheet dropped the leading zero
        text = "0" + text
    if not POSTCODE_RE.fullmatch(text):
        raise ValueError(f"postcode must have 5 digits, got {text!r}")
    return text


@cleaner
def clean_insee(text: str) -> str | None:
    text = text.replace(" ", "").upper()
    if re.fullmatch(r"\d{4}", text):
        text = "0" + text
    if not INSEE_RE.fullmatch(text):
        raise ValueError(f"INSEE commune code must have 5 characters, got {text!r}")
    return text


@cleaner
def clean_phone(text: str) -> str | None:
    """Any common French writing of a phone number -> E.164 (``+33555456100``)."""
    text = text.replace("(0)", "")
    digits = _digits(text)
    if text.startswith("+"):
        number = "+" + digits
    elif digits.startswith("00"):
        number = "+" + digits[2:]
    elif len(digits) == 10 and digits.startswith("0"):
        number = _OVERSEAS_PREFIXES.get(digits[:4], "+33") + digits[1:]
    elif len(digits) == 9 and not digits.startswith("0"):  # leading zero lost in a spreadsheet
        number = "+33" + digits
    else:
        raise ValueError(f"phone number not recognised: {text!r}")
    if number.startswith("+330"):
        number = "+33" + number[4:]
    if not PHONE_RE.fullmatch(number):
        raise ValueError(f"phone number not recognised: {text!r}")
    return number


@cleaner
def clean_email(text: str) -> str | None:
    text = text.lower().removeprefix("mailto:").strip()
    if not text:
        return None
    if not EMAIL_RE.fullmatch(text):
        raise ValueError(f"not an email address: {text!r}")
    return text


@cleaner
def clean_url(text: str) -> str | None:
    scheme = re.match(r"^([a-z][a-z0-9+.-]*)://", text, re.IGNORECASE)
    if scheme:
        text = scheme.group(1).lower() + text[len(scheme.group(1)) :]
    else:
        text = "https://" + text  # "www.exemple.fr", "exemple.fr:8080/agenda"
    text = "".join(_IRI_UNSAFE.get(c, c) for c in text)
    if not URL_RE.fullmatch(text):
        raise ValueError(f"not a web address: {text!r}")
    return text


@cleaner
def clean_departement(text: str) -> str | None:
    text = text.upper()
    if re.fullmatch(r"\d", text):
        text = "0" + text
    if not DEPARTEMENT_RE.fullmatch(text):
        raise ValueError(f"not a département code: {text!r}")
    return text


def clean_date(value: object) -> object:
    """ISO dates pass; French ``dd/mm/yyyy`` is turned to ISO; ``0001-01-01`` means no date."""
    if value is None or hasattr(value, "isoformat"):
        return value
    text = _as_text(value)
    if not text or text.startswith("0001-01-01"):
        return None
    if text.isdigit():  # never read as a Unix timestamp or a spreadsheet serial
        raise ValueError(f"not a date: {text!r}")
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    if match:
        day, month, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", text) else text


def departement_of(code_insee: str | None, code_postal: str | None) -> str | None:
    """Département code from the INSEE commune code (preferred) or the postcode."""
    if code_insee:
        return code_insee[:3] if code_insee[:2] in ("97", "98") else code_insee[:2]
    if code_postal:
        if code_postal[:2] in ("97", "98"):
            return code_postal[:3]
        if code_postal.startswith("20"):
            return "2A" if code_postal[:3] in ("200", "201") else "2B"
        return code_postal[:2]
    return None
