"""SKOS concept schemes generated from the schema's code lists (no hand-kept copy)."""

from __future__ import annotations

from rdflib import DCTERMS, OWL, RDF, SKOS, Graph, Literal, Namespace, URIRef

from ..schema import CODE_LISTS, CodeList, Region

BASE = "https://w3id.org/pana/"
CODE = Namespace(BASE + "code/")
PANA = Namespace(BASE + "vocab#")

SCHEMES: dict[str, type[CodeList]] = {**CODE_LISTS, "region": Region}


def scheme_uri(name: str) -> URIRef:
    return URIRef(CODE + name.replace("_", "-"))


def concept_uri(name: str, value: str) -> URIRef:
    return URIRef(f"{scheme_uri(name)}/{value}")


def bind(graph: Graph) -> Graph:
    graph.bind("skos", SKOS)
    graph.bind("dct", DCTERMS)
    graph.bind("pana", PANA)
    graph.bind("owl", OWL)
    return graph


def codelists_graph() -> Graph:
    g = bind(Graph())
    for name, codes in SCHEMES.items():
        scheme = scheme_uri(name)
        g.add((scheme, RDF.type, SKOS.ConceptScheme))
        g.add((scheme, SKOS.prefLabel, Literal(codes.__name__, lang="en")))
        if codes.__doc__:
            g.add(
                (scheme, DCTERMS.description, Literal(" ".join(codes.__doc__.split()), lang="fr"))
            )
        for member in codes:
            concept = concept_uri(name, member.value)
            g.add((concept, RDF.type, SKOS.Concept))
            g.add((concept, SKOS.inScheme, scheme))
            g.add((concept, SKOS.topConceptOf, scheme))
            g.add((scheme, SKOS.hasTopConcept, concept))
            g.add((concept, SKOS.notation, Literal(member.value)))
            g.add((concept, SKOS.prefLabel, Literal(member.label, lang="fr")))
            if member.description:
                g.add((concept, SKOS.definition, Literal(member.description, lang="fr")))
    return g
