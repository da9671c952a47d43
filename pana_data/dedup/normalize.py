"""Normalisation for matching: pure functions from what sources write to comparable keys.

Keys are for comparing records, never for publishing: a published value keeps the source's
spelling. Every function returns ``None`` for an empty, placeholder or invalid input, so a key is
either meaningful or absent.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from ..schema import identifiers as ids

# Known abbreviations of the field, expanded before comparison (tokens after punctuation removal).
ABBREVIATIONS = {
    "mda": "maison des associations",
    "mva": "maison de la vie associative",
    "epn": "espace public numerique",
    "piva": "point d information vie associative",
    "crib": "centre de ressources et d information des benevoles",
    "dla": "dispositif local d accompagnement",
    "fol": "federation des oeuvres laiques",
    "cs": "centre social",
    "csc": "centre socio culturel",
    "mjc": "maison des jeunes et de la culture",
    "bfm": "bibliotheque francophone multimedia",
    "st": "saint",
    "ste": "sainte",
}
# Legal-form words that say nothing about which organisation it is.
LEGAL_WORDS = {"association", "asso", "assoc", "loi", "1901", "1908", "aisbl", "asbl"}
STOPWORDS = {"de", "des", "du", "d", "la", "le", "les", "l", "et", "a", "au", "aux", "en", "pour"}

STREET_TYPES = {
    "r": "rue",
    "bd": "boulevard",
    "bld": "boulevard",
    "boul": "boulevard",
    "av": "avenue",
    "ave": "avenue",
    "pl": "place",
    "gal": "general",
    "gen": "general",
    "ch": "chemin",
    "chem": "chemin",
    "imp": "impasse",
    "all": "allee",
    "rte": "route",
    "fbg": "faubourg",
    "sq": "square",
    "crs": "cours",
    "res": "residence",
    "st": "saint",
    "ste": "sainte",
}
NUMBER_SUFFIXES = {"bis": "b", "ter": "t", "quater": "q"}

# Hosts shared by many organisations: the first path segment tells them apart.
SHARED_HOSTS = {
    "facebook.com",
    "instagram.com",
    "linkedin.com",
    "twitter.com",
    "x.com",
    "sites.google.com",
    "helloasso.com",
    "wixsite.com",
}


def _ascii_table() -> dict[int, str]:
    """Latin letters with diacritics -> their base letters, computed once (str.translate is
    an order of magnitude faster than decomposing every string)."""
    table: dict[int, str] = {ord("œ"): "oe", ord("æ"): "ae", ord("ß"): "ss"}
    for code in range(0xC0, 0x250):
        char = chr(code).lower()
        if len(char) != 1:
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if base != char and base.isascii():
            table[ord(char)] = base
    return table


_ASCII = _ascii_table()
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_NUMBER_SUFFIX = re.compile(r"\b(\d+) ?(bis|ter|quater)\b")


def fold(text: str) -> str:
    """Lowercase ASCII letters, digits and single spaces; accents and punctuation removed."""
    text = text.lower().translate(_ASCII)
    if not text.isascii():  # rarer scripts and signs: the slow, general way
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    if "." in text:  # dotted acronyms (C.S., M.D.A.) become one token before punctuation goes
        text = _DOTTED.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    return " ".join(_NOT_ALNUM.sub(" ", text).split())


def name_tokens(name: str | None) -> list[str]:
    """Significant tokens of an organisation's name, abbreviations expanded."""
    if not name:
        return []
    tokens: list[str] = []
    for token in fold(name).split():
        tokens.extend(ABBREVIATIONS.get(token, token).split())
    return [t for t in tokens if t not in LEGAL_WORDS and t not in STOPWORDS]


def name_key(name: str | None) -> str | None:
    """``"MDA de Limoges (asso. loi 1901)"`` -> ``"maison associations limoges"``."""
    return " ".join(name_tokens(name)) or None


def address_key(address: str | None) -> str | None:
    """``"12 bis, r. du Gal Leclerc"`` -> ``"12b rue general leclerc"``."""
    if not address:
        return None
    text = fold(address)
    text = _NUMBER_SUFFIX.sub(lambda m: m.group(1) + NUMBER_SUFFIXES[m.group(2)], text)
    tokens = [STREET_TYPES.get(t, t) for t in text.split()]
    tokens = [t for t in tokens if t not in STOPWORDS]
    return " ".join(tokens) or None


def _quiet(cleaner, value: object) -> str | None:
    try:
        return cleaner(value)
    except ValueError:
        return None


def phone_key(value: object) -> str | None:
    return _quiet(ids.clean_phone, value)


def email_key(value: object) -> str | None:
    return _quiet(ids.clean_email, value)


def postcode_key(value: object) -> str | None:
    return _quiet(ids.clean_postcode, value)


def siret_key(value: object) -> str | None:
    """A valid SIRET, or ``None`` for placeholders and invalid numbers."""
    return _quiet(ids.clean_siret, value)


def siren_key(value: object) -> str | None:
    return _quiet(ids.clean_siren, value)


def rna_key(value: object) -> str | None:
    return _quiet(ids.clean_rna, value)


def website_key(value: object) -> str | None:
    """The site's host without ``www.``; on shared hosts (social networks), host and page."""
    url = _quiet(ids.clean_url, value)
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".").removeprefix("www.")
    if not host:
        return None
    shared = next((h for h in SHARED_HOSTS if host == h or host.endswith("." + h)), None)
    if shared:  # the whole page address tells organisations apart, not the platform
        path = "/".join(s for s in parts.path.lower().split("/") if s)
        if parts.query and path.endswith(".php"):  # facebook.com/profile.php?id=…
            path += "?" + parts.query.lower()
        return f"{shared}/{path}" if path else None
    return host
