"""The project's vocabulary: SKOS concept schemes generated from the schema's code lists (no
hand-kept copy), with ``skos:exactMatch`` to the values of the sources' own code lists, and the
few properties no standard vocabulary covers, minted with French and English labels."""

from __future__ import annotations

from urllib.parse import quote

from rdflib import DCTERMS, OWL, RDF, RDFS, SKOS, Graph, Literal, Namespace, URIRef

from ..schema import CODE_LISTS, CodeList, Region
from .mapping import Uris
from .terms import DEFAULT_BASE, PREFIXES

BASE = DEFAULT_BASE
CODE = Namespace(BASE + "code/")
PANA = Namespace(BASE + "vocab#")

SCHEMES: dict[str, type[CodeList]] = {**CODE_LISTS, "region": Region}

# External code lists (a kind's source format) -> {their value: our code}, per schema field.
Matches = dict[str, dict[str, dict[str, str]]]  # kind -> field -> {value: code}

# Properties minted because no standard vocabulary has them: name -> (kind, fr, en, comment fr,
# comment en, range).
MINTED: dict[str, tuple[str, str, str, str, str, str]] = {
    "niveauService": (
        "ObjectProperty",
        "niveau de service",
        "service level",
        "Ce que l'acteur fait pour les associations : informer, orienter ou accompagner.",
        "What the actor does for associations: inform, orient or accompany.",
        "skos:Concept",
    ),
    "statut": (
        "ObjectProperty",
        "statut",
        "status",
        "Actif, fermé (dissolution, fermeture) ou inconnu.",
        "Active, closed (dissolved, closed establishment) or unknown.",
        "skos:Concept",
    ),
    "horaires": (
        "DatatypeProperty",
        "horaires d'ouverture",
        "opening hours",
        "Horaires au format OpenStreetMap opening_hours.",
        "Opening hours in the OpenStreetMap opening_hours syntax.",
        "xsd:string",
    ),
}


def _ns(curie: str) -> URIRef:
    prefix, local = curie.split(":", 1)
    return URIRef(PREFIXES[prefix] + local)


def scheme_uri(name: str, base: str = DEFAULT_BASE) -> URIRef:
    return URIRef(Uris(base).scheme(name))


def concept_uri(name: str, value: str, base: str = DEFAULT_BASE) -> URIRef:
    return URIRef(Uris(base).concept(name, value))


def bind(graph: Graph, base: str = DEFAULT_BASE) -> Graph:
    graph.bind("skos", SKOS)
    graph.bind("dct", DCTERMS)
    graph.bind("pana", Namespace(base + "vocab#"))
    graph.bind("code", Namespace(base + "code/"))
    graph.bind("owl", OWL)
    graph.bind("rdfs", RDFS)
    return graph


def external_scheme(kind: str, name: str, base: str = DEFAULT_BASE) -> URIRef:
    return URIRef(f"{base}code/ext/{kind}/{name.replace('_', '-')}")


def codelists_graph(base: str = DEFAULT_BASE, matches: Matches | None = None) -> Graph:
    g = bind(Graph(), base)
    for name, codes in SCHEMES.items():
        scheme = scheme_uri(name, base)
        g.add((scheme, RDF.type, SKOS.ConceptScheme))
        g.add((scheme, SKOS.prefLabel, Literal(codes.__name__, lang="en")))
        if codes.__doc__:
            g.add(
                (scheme, DCTERMS.description, Literal(" ".join(codes.__doc__.split()), lang="fr"))
            )
        for member in codes:
            concept = concept_uri(name, member.value, base)
            g.add((concept, RDF.type, SKOS.Concept))
            g.add((concept, SKOS.inScheme, scheme))
            g.add((concept, SKOS.topConceptOf, scheme))
            g.add((scheme, SKOS.hasTopConcept, concept))
            g.add((concept, SKOS.notation, Literal(member.value)))
            g.add((concept, SKOS.prefLabel, Literal(member.label, lang="fr")))
            if member.description:
                g.add((concept, SKOS.definition, Literal(member.description, lang="fr")))
    for kind, fields in sorted((matches or {}).items()):
        for name, table in sorted(fields.items()):
            scheme = external_scheme(kind, name, base)
            g.add((scheme, RDF.type, SKOS.ConceptScheme))
            g.add(
                (
                    scheme,
                    SKOS.prefLabel,
                    Literal(f"Valeurs « {name} » des sources de type {kind}", lang="fr"),
                )
            )
            for value, code in sorted(table.items()):
                external = URIRef(f"{scheme}/{quote(value, safe='')}")
                g.add((external, RDF.type, SKOS.Concept))
                g.add((external, SKOS.inScheme, scheme))
                g.add((external, SKOS.notation, Literal(value)))
                g.add((external, SKOS.prefLabel, Literal(value, lang="fr")))
                g.add((concept_uri(name, code, base), SKOS.exactMatch, external))
                g.add((external, SKOS.exactMatch, concept_uri(name, code, base)))
    return g


def vocabulary_graph(base: str = DEFAULT_BASE) -> Graph:
    """The minted properties, with labels in French and English."""
    g = bind(Graph(), base)
    ontology = URIRef(base + "vocab")
    g.add((ontology, RDF.type, OWL.Ontology))
    g.add((ontology, DCTERMS.title, Literal("Vocabulaire PANA", lang="fr")))
    g.add((ontology, DCTERMS.title, Literal("PANA vocabulary", lang="en")))
    g.add(
        (
            ontology,
            RDFS.comment,
            Literal(
                "Les seuls termes que les vocabulaires standard (ORG, Core Location, ADMS, "
                "Core Vocabularies, PROV-O, SKOS) ne couvrent pas.",
                lang="fr",
            ),
        )
    )
    for local, (kind, fr, en, comment_fr, comment_en, range_) in MINTED.items():
        term = URIRef(f"{base}vocab#{local}")
        g.add((term, RDF.type, OWL[kind]))
        g.add((term, RDF.type, RDF.Property))
        g.add((term, RDFS.isDefinedBy, ontology))
        g.add((term, RDFS.label, Literal(fr, lang="fr")))
        g.add((term, RDFS.label, Literal(en, lang="en")))
        g.add((term, RDFS.comment, Literal(comment_fr, lang="fr")))
        g.add((term, RDFS.comment, Literal(comment_en, lang="en")))
        g.add((term, RDFS.domain, _ns("org:Organization")))
        g.add((term, RDFS.range, _ns(range_)))
    return g
