"""Actors -> triples: W3C ORG and SEMIC Core Business (legal), Core Location, ADMS, Core Vocabularies
contact points, SKOS code lists, W3C ORG memberships and PROV-O provenance.

The mapping is declared as tables (``LITERALS``, ``IDENTIFIERS``, ``ADDRESS``, ``CONCEPTS``,
``MEMBERSHIPS``): the triple generator and the SHACL shapes (``shapes.py``) both read them. Triples
are plain Python values (``terms.Iri``, ``terms.Lit``); writers turn them into Turtle and N-Triples
through pyoxigraph, into compact JSON-LD, or into an rdflib graph. No blank nodes: every node has
an IRI (``…/id/acteur/{id}#adresse``), so the output is deterministic and sorts cleanly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..schema import Actor
from .terms import DEFAULT_BASE, RDF_TYPE, XSD, Iri, Lit, Triple, all_prefixes

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


@dataclass(frozen=True)
class Uris:
    """The project's IRIs under a base (the catalog's ``base_uri``)."""

    base: str = DEFAULT_BASE

    def actor(self, actor_id: str) -> Iri:
        return Iri(f"{self.base}id/acteur/{actor_id}")

    def record(self, source_id: str, record_id: str) -> Iri:
        return Iri(f"{self.base}id/enregistrement/{source_id}/{quote(record_id, safe='')}")

    def source(self, source_id: str) -> Iri:
        return Iri(f"{self.base}id/source/{source_id}")

    def harvest(self, source_id: str, sha256: str) -> Iri:
        return Iri(f"{self.base}id/moisson/{source_id}/{sha256[:16]}")

    def scheme(self, name: str) -> Iri:
        return Iri(f"{self.base}code/{SCHEME_NAMES.get(name, name.replace('_', '-'))}")

    def concept(self, name: str, value: str) -> Iri:
        return Iri(f"{self.scheme(name)}/{quote(value, safe='')}")

    def term(self, local: str) -> Iri:
        return Iri(f"{self.base}vocab#{local}")

    def resolve(self, curie: str) -> Iri:
        prefix, local = curie.split(":", 1)
        if prefix == "pana":
            return self.term(local)
        return Iri(P[prefix] + local)


@dataclass
class Provenance:
    """Where records came from: the source and harvest of each source id."""

    sources: dict[str, dict[str, Any]] = field(default_factory=dict)


def _lit(value: object, spec: str | None) -> Lit:
    if spec == "@fr":
        return Lit(str(value), None, "fr")
    if spec:
        return Lit(value.isoformat() if isinstance(value, dt.date) else str(value), _x(spec))
    return Lit(str(value))


def _code(value: Any) -> str:
    return getattr(value, "value", value)


def actor_triples(
    actor: Actor, records: Iterable[tuple[str, str]], uris: Uris, prov: Provenance
) -> Iterator[Triple]:
    s = uris.actor(actor.id)
    t = RDF_TYPE
    yield s, t, Iri(_x("org:Organization"))
    if actor.siren or actor.rna:
        yield s, t, Iri(_x("legal:LegalEntity"))
    yield s, _x("dct:identifier"), Lit(actor.id)
    for name, (curie, spec) in LITERALS.items():
        value = getattr(actor, name)
        if value not in (None, ""):
            yield s, uris.resolve(curie), _lit(value, spec)
    for name, (scheme, agency) in IDENTIFIERS.items():
        value = getattr(actor, name)
        if value:
            node = Iri(f"{s}#{name}")
            yield s, _x("adms:identifier"), node
            yield node, t, Iri(_x("adms:Identifier"))
            yield node, _x("skos:notation"), Lit(value)
            yield node, _x("dct:conformsTo"), Iri(scheme)
            yield node, _x("adms:schemaAgency"), Lit(agency)
    if any(getattr(actor, name) for name in ADDRESS) or actor.complement_adresse:
        node = Iri(f"{s}#adresse")
        yield s, _x("locn:address"), node
        yield node, t, Iri(_x("locn:Address"))
        town = " ".join(p for p in (actor.code_postal, actor.commune) if p)
        full = ", ".join(p for p in (actor.adresse, actor.complement_adresse, town) if p)
        if full:
            yield node, _x("locn:fullAddress"), Lit(full)
        for name, curie in ADDRESS.items():
            value = getattr(actor, name)
            if value:
                yield node, _x(curie), Lit(_code(value))
    if actor.latitude is not None and actor.longitude is not None:
        node = Iri(f"{s}#geometrie")
        yield s, _x("locn:geometry"), node
        yield node, t, Iri(_x("locn:Geometry"))
        yield (
            node,
            _x("geo:asWKT"),
            Lit(f"POINT({actor.longitude} {actor.latitude})", _x("geo:wktLiteral")),
        )
        yield node, _x("wgs:lat"), Lit(repr(float(actor.latitude)), XSD + "decimal")
        yield node, _x("wgs:long"), Lit(repr(float(actor.longitude)), XSD + "decimal")
    if actor.telephone or actor.courriel:
        node = Iri(f"{s}#contact")
        yield s, _x("cv:contactPoint"), node
        yield node, t, Iri(_x("cv:ContactPoint"))
        if actor.telephone:
            yield node, _x("cv:telephone"), Lit(actor.telephone)
        if actor.courriel:
            yield node, _x("cv:email"), Iri(f"mailto:{actor.courriel}")
    if actor.site_web:
        yield s, _x("foaf:homepage"), Iri(actor.site_web)
    for name, curie in CONCEPTS.items():
        value = getattr(actor, name)
        for code in value if isinstance(value, list) else [value]:
            yield s, uris.resolve(curie), uris.concept(name, _code(code))
    for name, curie in MEMBERSHIPS.items():
        for code in getattr(actor, name):
            node = Iri(f"{s}#{name}-{quote(_code(code), safe='')}")
            yield s, _x("org:hasMembership"), node
            yield node, t, Iri(_x("org:Membership"))
            yield node, _x("org:member"), s
            yield node, _x(curie), uris.concept(name, _code(code))
            if actor.date_maj:
                yield node, _x("dct:date"), _lit(actor.date_maj, "xsd:date")
    for zone in actor.zone_intervention:
        level, code = zone.split(":", 1)
        yield s, _x("schema:areaServed"), Iri(ZONES[level].format(code))
    harvests = set()
    for source_id, record_id in records:
        yield s, _x("prov:wasDerivedFrom"), uris.record(source_id, record_id)
        info = prov.sources.get(source_id)
        if info and info.get("sha256"):
            harvests.add(uris.harvest(source_id, info["sha256"]))
    for harvest in sorted(harvests):
        yield s, _x("prov:wasGeneratedBy"), harvest


def record_triples(
    members: dict[str, list[tuple[str, str]]], uris: Uris, prov: Provenance
) -> Iterator[Triple]:
    """The source records actors derive from, their sources and harvest activities."""
    t = RDF_TYPE
    seen_sources = set()
    for keys in members.values():
        for source_id, record_id in keys:
            node = uris.record(source_id, record_id)
            yield node, t, Iri(_x("prov:Entity"))
            yield node, _x("dct:source"), uris.source(source_id)
            info = prov.sources.get(source_id) or {}
            if info.get("sha256"):
                yield node, _x("prov:wasGeneratedBy"), uris.harvest(source_id, info["sha256"])
            seen_sources.add(source_id)
    for source_id in sorted(seen_sources):
        info = prov.sources.get(source_id) or {}
        node = uris.source(source_id)
        yield node, t, Iri(_x("prov:Entity"))
        if info.get("title"):
            yield node, _x("dct:title"), Lit(info["title"], None, "fr")
        if info.get("licence"):
            yield node, _x("dct:license"), Lit(info["licence"])
        if info.get("sha256"):
            activity = uris.harvest(source_id, info["sha256"])
            yield activity, t, Iri(_x("prov:Activity"))
            url = info.get("url") or ""
            if url.startswith(("http://", "https://")):
                yield activity, _x("prov:used"), Iri(url)
            elif url:
                yield activity, _x("dct:source"), Lit(url)
            if info.get("fetched_at"):
                yield activity, _x("prov:endedAtTime"), Lit(info["fetched_at"], XSD + "dateTime")


def redirect_triples(redirects: Iterable[dict[str, Any]], uris: Uris) -> Iterator[Triple]:
    for r in redirects:
        yield uris.actor(r["old_id"]), _x("dct:isReplacedBy"), uris.actor(r["new_id"])


def release_triples(
    actors: list[Actor],
    members: dict[str, list[tuple[str, str]]],
    redirects: Iterable[dict[str, Any]] = (),
    sources: Iterable[dict[str, Any]] = (),
    base: str = DEFAULT_BASE,
) -> list[Triple]:
    """Every triple of a release, sorted (subject, predicate, object): deterministic output."""
    uris = Uris(base)
    prov = Provenance({s["source_id"]: s for s in sources})
    triples: list[Triple] = []
    for actor in actors:
        triples.extend(actor_triples(actor, members.get(actor.id, []), uris, prov))
    triples.extend(record_triples(members, uris, prov))
    triples.extend(redirect_triples(redirects, uris))
    triples.sort(key=_sort_key)
    return _unique(triples)


def _sort_key(triple: Triple) -> tuple:
    s, p, o = triple
    if isinstance(o, Iri):
        return (s, p, 0, o, "", "")
    return (s, p, 1, o.value, o.datatype or "", o.lang or "")


def _unique(triples: list[Triple]) -> list[Triple]:
    out: list[Triple] = []
    last = None
    for triple in triples:
        if triple != last:
            out.append(triple)
        last = triple
    return out
