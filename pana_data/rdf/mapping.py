"""Actors -> triples: W3C ORG and SEMIC Core Business (legal), Core Location, ADMS, Core Vocabularies
contact points, SKOS code lists, W3C ORG memberships and PROV-O provenance.

The mapping is declared as tables (``LITERALS``, ``IDENTIFIERS``, ``ADDRESS``, ``CONCEPTS``,
``MEMBERSHIPS``): the triple generator and the SHACL shapes (``shapes.py``) both read them. Triples
are plain Python values (an IRI is a ``str``, a literal a ``terms.Lit``); writers turn them into Turtle and N-Triples
through pyoxigraph, into compact JSON-LD, or into an rdflib graph. No blank nodes: every node has
an IRI (``…/id/acteur/{id}#adresse``), so the output is deterministic and sorts cleanly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from ..schema import Actor
from .terms import DEFAULT_BASE, RDF_TYPE, XSD, Block, Lit, Triple, all_prefixes

P = all_prefixes(DEFAULT_BASE)  # standard prefixes; project ones are per base

# field -> (predicate curie, datatype curie or "@fr" for a French string, or None)
LITERALS: dict[str, tuple[str, str | None]] = {
    "nom": ("skos:prefLabel", "@fr"),
    "nom_legal": ("legal:legalName", None),
    "description": ("dct:description", "@fr"),
    "horaires": ("pana:horaires", None),
    "date_maj": ("dct:modified", "xsd:date"),
}
# identifier field -> (scheme IRI, agency)
IDENTIFIERS: dict[str, tuple[str, str]] = {
    "siret": ("https://www.sirene.fr/siret", "INSEE"),
    "siren": ("https://www.sirene.fr/siren", "INSEE"),
    "rna": ("https://www.data.gouv.fr/rna", "Ministère de l'Intérieur"),
}
# address field -> predicate (on the locn:Address node)
ADDRESS: dict[str, str] = {
    "adresse": "locn:thoroughfare",
    "code_postal": "locn:postCode",
    "commune": "locn:postName",
    "departement": "locn:adminUnitL2",
    "region": "locn:adminUnitL1",
    "code_insee": "locn:addressID",
}
# code-list field -> predicate to a SKOS concept
CONCEPTS: dict[str, str] = {
    "typologie": "org:classification",
    "thematiques": "org:purpose",
    "niveaux_service": "pana:niveauService",
    "statut": "pana:statut",
}
# code-list field -> how the membership node points at the concept
MEMBERSHIPS: dict[str, str] = {"reseaux": "org:organization", "labels": "org:role"}
# zone_intervention level -> IRI template (INSEE COG; the EU country authority for France)
ZONES = {
    "commune": "http://id.insee.fr/geo/commune/{}",
    "epci": "http://id.insee.fr/geo/intercommunalite/{}",
    "departement": "http://id.insee.fr/geo/departement/{}",
    "region": "http://id.insee.fr/geo/region/{}",
    "pays": "http://publications.europa.eu/resource/authority/country/FRA",
}
SCHEME_NAMES = {"niveaux_service": "niveaux-service"}


def _x(curie: str) -> str:
    prefix, local = curie.split(":", 1)
    return P[prefix] + local


C_ORGANIZATION = _x("org:Organization")
C_LEGAL_ENTITY = _x("legal:LegalEntity")
C_IDENTIFIER = _x("adms:Identifier")
C_ADDRESS = _x("locn:Address")
C_GEOMETRY = _x("locn:Geometry")
C_CONTACT = _x("cv:ContactPoint")
C_MEMBERSHIP = _x("org:Membership")
X_IDENTIFIER = _x("dct:identifier")
X_ADMS_IDENTIFIER = _x("adms:identifier")
X_NOTATION = _x("skos:notation")
X_CONFORMS_TO = _x("dct:conformsTo")
X_AGENCY = _x("adms:schemaAgency")
X_ADDRESS = _x("locn:address")
X_FULL_ADDRESS = _x("locn:fullAddress")
X_GEOMETRY = _x("locn:geometry")
X_WKT = _x("geo:asWKT")
X_LAT = _x("wgs:lat")
X_LONG = _x("wgs:long")
X_CONTACT = _x("cv:contactPoint")
X_TELEPHONE = _x("cv:telephone")
X_EMAIL = _x("cv:email")
X_HOMEPAGE = _x("foaf:homepage")
X_HAS_MEMBERSHIP = _x("org:hasMembership")
X_MEMBER = _x("org:member")
X_DATE = _x("dct:date")
X_AREA_SERVED = _x("schema:areaServed")
X_DERIVED_FROM = _x("prov:wasDerivedFrom")
X_GENERATED_BY = _x("prov:wasGeneratedBy")
WKT_LITERAL = _x("geo:wktLiteral")
DECIMAL = XSD + "decimal"
# The tables with their predicates resolved once (``pana:`` terms are resolved per base).
LITERAL_PREDICATES = [
    (name, (curie if curie.startswith("pana:") else _x(curie), spec))
    for name, (curie, spec) in LITERALS.items()
]
ADDRESS_PREDICATES = [(name, _x(curie)) for name, curie in ADDRESS.items()]
CONCEPT_PREDICATES = list(CONCEPTS.items())
MEMBERSHIP_PREDICATES = [(name, _x(curie)) for name, curie in MEMBERSHIPS.items()]


SAFE_ID = re.compile(r"^[A-Za-z0-9_.~-]+$")  # left as is by quote(): no need to call it


class Uris:
    """The project's IRIs under a base (the catalog's ``base_uri``). Concept and term IRIs are
    computed once each."""

    def __init__(self, base: str = DEFAULT_BASE):
        self.base = base
        self._concepts: dict[tuple[str, str], str] = {}
        self._resolved: dict[str, str] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Uris) and other.base == self.base

    def __hash__(self) -> int:
        return hash(self.base)

    def actor(self, actor_id: str) -> str:
        return f"{self.base}id/acteur/{actor_id}"

    def record(self, source_id: str, record_id: str) -> str:
        local = record_id if SAFE_ID.match(record_id) else quote(record_id, safe="")
        return f"{self.base}id/enregistrement/{source_id}/{local}"

    def source(self, source_id: str) -> str:
        return f"{self.base}id/source/{source_id}"

    def harvest(self, source_id: str, sha256: str) -> str:
        return f"{self.base}id/moisson/{source_id}/{sha256[:16]}"

    def scheme(self, name: str) -> str:
        return f"{self.base}code/{SCHEME_NAMES.get(name, name.replace('_', '-'))}"

    def concept(self, name: str, value: str) -> str:
        found = self._concepts.get((name, value))
        if found is None:
            found = self._concepts[(name, value)] = f"{self.scheme(name)}/{quote(value, safe='')}"
        return found

    def term(self, local: str) -> str:
        return f"{self.base}vocab#{local}"

    def resolve(self, curie: str) -> str:
        found = self._resolved.get(curie)
        if found is None:
            prefix, local = curie.split(":", 1)
            found = self.term(local) if prefix == "pana" else P[prefix] + local
            self._resolved[curie] = found
        return found


@dataclass
class Provenance:
    """Where records came from: the source and harvest of each source id."""

    sources: dict[str, dict[str, Any]] = field(default_factory=dict)


_DATATYPES: dict[str, str] = {}
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Characters an IRI may hold as they are (RFC 3987), besides letters, digits and non-ASCII.
_IRI_SAFE = ":/?=&;,+!$'()*@~-._%"


def safe_iri(value: str) -> str | None:
    """``value`` as a valid IRI: what the schema lets through in a URL or an email (brackets, a
    second ``#``, a stray ``%``, controls) is percent-encoded; None when that cannot help."""
    try:
        ox.NamedNode(value)
        return value
    except ValueError:
        pass
    head, sep, fragment = _BAD_PERCENT.sub("%25", value).partition("#")
    fixed = quote(head, safe=_IRI_SAFE) + sep + quote(fragment, safe=_IRI_SAFE)
    try:
        ox.NamedNode(fixed)
        return fixed
    except ValueError:
        return None


def decimal(value: float) -> str:
    """An xsd:decimal lexical form (``repr`` may give ``1e-05``, which is not one)."""
    text = repr(float(value))
    return format(Decimal(text), "f") if "e" in text or "n" in text else text


def _lit(value: object, spec: str | None) -> Lit:
    if spec == "@fr":
        return Lit(str(value), None, "fr")
    if spec:
        datatype = _DATATYPES.get(spec) or _DATATYPES.setdefault(spec, _x(spec))
        return Lit(value.isoformat() if isinstance(value, dt.date) else str(value), datatype)
    return Lit(str(value))


def _code(value: Any) -> str:
    return getattr(value, "value", value)


def actor_blocks(
    actor: Actor, records: Iterable[tuple[str, str]], uris: Uris, prov: Provenance
) -> list[Block]:
    """The actor's triples as subject blocks: the actor first, then its nodes (identifiers,
    address, geometry, contact, memberships), each in the mapping's fixed order."""
    s = uris.actor(actor.id)
    t = RDF_TYPE
    main: list[tuple[str, object]] = [(t, C_ORGANIZATION)]
    nodes: list[Block] = []
    add = main.append
    if actor.siren or actor.rna:
        add((t, C_LEGAL_ENTITY))
    add((X_IDENTIFIER, Lit(actor.id)))
    for name, (predicate, spec) in LITERAL_PREDICATES:
        value = getattr(actor, name)
        if value not in (None, ""):
            add((uris.resolve(predicate) if predicate.startswith("pana:") else predicate,
                 _lit(value, spec)))  # fmt: skip
    for name, (scheme, agency) in IDENTIFIERS.items():
        value = getattr(actor, name)
        if value:
            node = f"{s}#{name}"
            add((X_ADMS_IDENTIFIER, node))
            nodes.append((node, [(t, C_IDENTIFIER), (X_NOTATION, Lit(value)),
                                 (X_CONFORMS_TO, scheme), (X_AGENCY, Lit(agency))]))  # fmt: skip
    if any(getattr(actor, name) for name in ADDRESS) or actor.complement_adresse:
        node = f"{s}#adresse"
        add((X_ADDRESS, node))
        body: list[tuple[str, object]] = [(t, C_ADDRESS)]
        town = " ".join(p for p in (actor.code_postal, actor.commune) if p)
        full = ", ".join(p for p in (actor.adresse, actor.complement_adresse, town) if p)
        if full:
            body.append((X_FULL_ADDRESS, Lit(full)))
        for name, predicate in ADDRESS_PREDICATES:
            value = getattr(actor, name)
            if value:
                body.append((predicate, Lit(_code(value))))
        nodes.append((node, body))
    if actor.latitude is not None and actor.longitude is not None:
        node = f"{s}#geometrie"
        add((X_GEOMETRY, node))
        lat, long = decimal(actor.latitude), decimal(actor.longitude)
        nodes.append((node, [
            (t, C_GEOMETRY),
            (X_WKT, Lit(f"POINT({long} {lat})", WKT_LITERAL)),
            (X_LAT, Lit(lat, DECIMAL)),
            (X_LONG, Lit(long, DECIMAL)),
        ]))  # fmt: skip
    if actor.telephone or actor.courriel:
        node = f"{s}#contact"
        add((X_CONTACT, node))
        body = [(t, C_CONTACT)]
        if actor.telephone:
            body.append((X_TELEPHONE, Lit(actor.telephone)))
        email = safe_iri(f"mailto:{actor.courriel}") if actor.courriel else None
        if email:
            body.append((X_EMAIL, email))
        nodes.append((node, body))
    homepage = safe_iri(actor.site_web) if actor.site_web else None
    if homepage:
        add((X_HOMEPAGE, homepage))
    for name, predicate in CONCEPT_PREDICATES:
        value = getattr(actor, name)
        target = uris.resolve(predicate)
        for code in value if isinstance(value, list) else [value]:
            add((target, uris.concept(name, _code(code))))
    date = _lit(actor.date_maj, "xsd:date") if actor.date_maj else None
    for name, predicate in MEMBERSHIP_PREDICATES:
        for code in getattr(actor, name):
            local = _code(code)
            node = f"{s}#{name}-{local if SAFE_ID.match(local) else quote(local, safe='')}"
            add((X_HAS_MEMBERSHIP, node))
            body = [(t, C_MEMBERSHIP), (X_MEMBER, s), (predicate, uris.concept(name, _code(code)))]
            if date:
                body.append((X_DATE, date))
            nodes.append((node, body))
    for zone in actor.zone_intervention:
        level, code = zone.split(":", 1)
        add((X_AREA_SERVED, ZONES[level].format(code)))
    harvests = set()
    for source_id, record_id in records:
        add((X_DERIVED_FROM, uris.record(source_id, record_id)))
        info = prov.sources.get(source_id)
        if info and info.get("sha256"):
            harvests.add(uris.harvest(source_id, info["sha256"]))
    for harvest in sorted(harvests):
        add((X_GENERATED_BY, harvest))
    nodes.sort(key=lambda block: block[0])
    return [(s, main), *nodes]


def actor_triples(
    actor: Actor, records: Iterable[tuple[str, str]], uris: Uris, prov: Provenance
) -> Iterator[Triple]:
    for subject, pairs in actor_blocks(actor, records, uris, prov):
        for p, o in pairs:
            yield subject, p, o


def record_blocks(keys: Iterable[tuple[str, str]], uris: Uris, prov: Provenance) -> list[Block]:
    """The source records actors derive from, sorted by IRI."""
    t = RDF_TYPE
    entity, source = _x("prov:Entity"), _x("dct:source")
    generated = _x("prov:wasGeneratedBy")
    grouped: dict[str, list[tuple[str, object]]] = {}
    for source_id, record_id in keys:
        node = uris.record(source_id, record_id)
        if node in grouped:  # a record is described once, however many actors cite it
            continue
        pairs = grouped[node] = [(t, entity), (source, uris.source(source_id))]
        info = prov.sources.get(source_id) or {}
        if info.get("sha256"):
            pairs.append((generated, uris.harvest(source_id, info["sha256"])))
    return sorted(grouped.items())


def source_blocks(source_ids: Iterable[str], uris: Uris, prov: Provenance) -> list[Block]:
    """The sources and their harvest activities, sorted by IRI."""
    t = RDF_TYPE
    blocks: list[Block] = []
    for source_id in sorted(set(source_ids)):
        info = prov.sources.get(source_id) or {}
        body: list[tuple[str, object]] = [(t, _x("prov:Entity"))]
        if info.get("title"):
            body.append((_x("dct:title"), Lit(info["title"], None, "fr")))
        if info.get("licence"):
            body.append((_x("dct:license"), Lit(info["licence"])))
        blocks.append((uris.source(source_id), body))
        if info.get("sha256"):
            activity: list[tuple[str, object]] = [(t, _x("prov:Activity"))]
            url = info.get("url") or ""
            if url.startswith(("http://", "https://")):
                activity.append((_x("prov:used"), url))
            elif url:
                activity.append((_x("dct:source"), Lit(url)))
            if info.get("fetched_at"):
                activity.append((_x("prov:endedAtTime"), Lit(info["fetched_at"], XSD + "dateTime")))
            blocks.append((uris.harvest(source_id, info["sha256"]), activity))
    return sorted(blocks)


PARTS = ("actors", "redirects", "records", "sources")


def release_blocks(
    actors: list[Actor],
    members: dict[str, list[tuple[str, str]]],
    redirects: Iterable[dict[str, Any]] = (),
    sources: Iterable[dict[str, Any]] = (),
    base: str = DEFAULT_BASE,
    parts: tuple[str, ...] = PARTS,
) -> Iterator[Block]:
    """Every subject block of a release in a fixed order: actors by id, absorbed ids, then the
    records, then the sources and harvests (each sorted by IRI). The same release gives the same
    blocks, so the files diff cleanly from one version to the next. ``parts`` picks some of
    them: the parallel writer renders actors and records by chunks (the records part renders
    every record of ``members``, the sources part the sources those records come from)."""
    uris = Uris(base)
    prov = Provenance({s["source_id"]: s for s in sources})
    if "actors" in parts:
        for actor in sorted(actors, key=lambda a: a.id):
            yield from actor_blocks(actor, members.get(actor.id, []), uris, prov)
    if "redirects" in parts:
        for r in sorted(redirects, key=lambda r: r["old_id"]):
            yield uris.actor(r["old_id"]), [(_x("dct:isReplacedBy"), uris.actor(r["new_id"]))]
    if "records" in parts:
        yield from record_blocks((k for keys in members.values() for k in keys), uris, prov)
    if "sources" in parts:
        seen = {source_id for keys in members.values() for source_id, _ in keys}
        yield from source_blocks(seen, uris, prov)


def release_triples(
    actors: list[Actor],
    members: dict[str, list[tuple[str, str]]],
    redirects: Iterable[dict[str, Any]] = (),
    sources: Iterable[dict[str, Any]] = (),
    base: str = DEFAULT_BASE,
) -> list[Triple]:
    """Every triple of a release, in the blocks' order (for tests and small graphs)."""
    return [
        (s, p, o)
        for s, pairs in release_blocks(actors, members, redirects, sources, base)
        for p, o in pairs
    ]
