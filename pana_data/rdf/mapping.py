"""Actors -> RDF (W3C ORG, Core Location, ADMS, vCard, PROV), serialised sorted and stable.

This first mapping covers the schema's fields; the full vocabulary, shapes and the pyoxigraph
writer come with the linked-data issue.
"""

from __future__ import annotations

from urllib.parse import quote

from rdflib import DCTERMS, FOAF, RDF, SKOS, XSD, Graph, Literal, Namespace, URIRef

from ..schema import Actor
from .vocab import BASE, PANA, bind, concept_uri

ORG = Namespace("http://www.w3.org/ns/org#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
CV = Namespace("http://data.europa.eu/m8g/")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
PROV = Namespace("http://www.w3.org/ns/prov#")
ROV = Namespace("http://www.w3.org/ns/regorg#")

IDENTIFIER_SCHEMES = {
    "siret": "https://www.sirene.fr/siret",
    "siren": "https://www.sirene.fr/siren",
    "rna": "https://www.data.gouv.fr/rna",
}
CONCEPT_FIELDS = {
    "typologie": ORG.classification,
    "thematiques": ORG.purpose,
    "niveaux_service": PANA.niveauService,
    "labels": PANA.label,
    "reseaux": PANA.reseau,
}


def actor_uri(actor_id: str) -> URIRef:
    return URIRef(f"{BASE}id/acteur/{actor_id}")


def record_uri(source_id: str, record_id: str) -> URIRef:
    return URIRef(f"{BASE}id/source/{source_id}/{quote(record_id, safe='')}")


def _lit(value: object) -> Literal:
    return Literal(str(value))


def add_actor(g: Graph, actor: Actor, records: list[tuple[str, str]]) -> None:
    s = actor_uri(actor.id)
    g.add((s, RDF.type, ORG.Organization))
    g.add((s, DCTERMS.identifier, _lit(actor.id)))
    g.add((s, SKOS.prefLabel, Literal(actor.nom, lang="fr")))
    if actor.nom_legal:  # the register's name (ROV: Registered Organization Vocabulary)
        g.add((s, ROV.legalName, Literal(actor.nom_legal)))
    if actor.description:
        g.add((s, DCTERMS.description, Literal(actor.description, lang="fr")))
    for name, scheme in IDENTIFIER_SCHEMES.items():
        value = getattr(actor, name)
        if value:
            node = URIRef(f"{s}#{name}")
            g.add((s, ADMS.identifier, node))
            g.add((node, RDF.type, ADMS.Identifier))
            g.add((node, SKOS.notation, _lit(value)))
            g.add((node, DCTERMS.conformsTo, URIRef(scheme)))
    if actor.adresse or actor.commune or actor.code_postal:
        node = URIRef(f"{s}#adresse")
        g.add((s, LOCN.address, node))
        g.add((node, RDF.type, LOCN.Address))
        full = ", ".join(
            p
            for p in (
                actor.adresse,
                actor.complement_adresse,
                " ".join(p for p in (actor.code_postal, actor.commune) if p),
            )
            if p
        )
        g.add((node, LOCN.fullAddress, _lit(full)))
        for prop, value in (
            (LOCN.thoroughfare, actor.adresse),
            (LOCN.postCode, actor.code_postal),
            (LOCN.postName, actor.commune),
            (LOCN.adminUnitL2, actor.departement),
        ):
            if value:
                g.add((node, prop, _lit(value)))
        if actor.code_insee:
            g.add((node, LOCN.addressID, _lit(actor.code_insee)))
    if actor.latitude is not None and actor.longitude is not None:
        node = URIRef(f"{s}#geometrie")
        g.add((s, LOCN.geometry, node))
        wkt = f"POINT({actor.longitude} {actor.latitude})"
        g.add((node, GEO.asWKT, Literal(wkt, datatype=GEO.wktLiteral)))
    if actor.telephone or actor.courriel:
        node = URIRef(f"{s}#contact")
        g.add((s, CV.contactPoint, node))
        g.add((node, RDF.type, CV.ContactPoint))
        if actor.telephone:
            g.add((node, CV.telephone, _lit(actor.telephone)))
        if actor.courriel:
            g.add((node, CV.email, URIRef(f"mailto:{actor.courriel}")))
    if actor.site_web:
        g.add((s, FOAF.homepage, URIRef(actor.site_web)))
    if actor.horaires:
        g.add((s, PANA.horaires, _lit(actor.horaires)))
    for name, prop in CONCEPT_FIELDS.items():
        for value in getattr(actor, name):
            g.add((s, prop, concept_uri(name, str(value))))
    g.add((s, PANA.statut, concept_uri("statut", str(actor.statut))))
    if actor.region:
        g.add((s, PANA.region, concept_uri("region", str(actor.region))))
    if actor.date_maj:
        g.add((s, DCTERMS.modified, Literal(actor.date_maj.isoformat(), datatype=XSD.date)))
    for source_id, record_id in records:
        g.add((s, PROV.wasDerivedFrom, record_uri(source_id, record_id)))


def actors_graph(actors: list[Actor], members: dict[str, list[tuple[str, str]]]) -> Graph:
    g = bind(Graph())
    for prefix, ns in (
        ("org", ORG),
        ("locn", LOCN),
        ("adms", ADMS),
        ("cv", CV),
        ("geo", GEO),
        ("prov", PROV),
        ("rov", ROV),
        ("foaf", FOAF),
        ("xsd", XSD),
    ):
        g.bind(prefix, ns)
    g.bind("acteur", Namespace(f"{BASE}id/acteur/"))
    for actor in actors:
        add_actor(g, actor, members.get(actor.id, []))
    return g
