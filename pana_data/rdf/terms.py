"""Terms of the RDF mapping as plain Python values, so that one triple generator feeds every
writer: pyoxigraph (Turtle, N-Triples), compact JSON-LD, and rdflib (vocabulary, SHACL, tests)."""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_BASE = "https://w3id.org/pana/"

PREFIXES = {
    "adms": "http://www.w3.org/ns/adms#",
    "cv": "http://data.europa.eu/m8g/",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "geo": "http://www.opengis.net/ont/geosparql#",
    "legal": "http://www.w3.org/ns/legal#",
    "locn": "http://www.w3.org/ns/locn#",
    "org": "http://www.w3.org/ns/org#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "prov": "http://www.w3.org/ns/prov#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "schema": "https://schema.org/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "wgs": "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


SCHEMES = ("typologie", "niveaux-service", "thematiques", "labels", "reseaux", "statut", "region")


def project_prefixes(base: str) -> dict[str, str]:
    """The project's own prefixes under a base URI (the catalog's ``base_uri``): one per code
    list, so that concepts read ``typologie:BIB``."""
    return {
        "pana": f"{base}vocab#",
        "code": f"{base}code/",
        "acteur": f"{base}id/acteur/",
        **{name: f"{base}code/{name}/" for name in SCHEMES},
    }


def all_prefixes(base: str = DEFAULT_BASE) -> dict[str, str]:
    return {**PREFIXES, **project_prefixes(base)}


class Lit(NamedTuple):
    """A literal. An IRI is a plain ``str``: ``isinstance(o, str)`` tells them apart."""

    value: str
    datatype: str | None = None  # an IRI; None is xsd:string
    lang: str | None = None


Term = str | Lit
Triple = tuple[str, str, Term]
Block = tuple[str, list[tuple[str, Term]]]  # a subject and its (predicate, object) pairs


def ns(prefix: str, base: str = DEFAULT_BASE) -> str:
    return all_prefixes(base)[prefix]


def iri(curie: str, base: str = DEFAULT_BASE) -> str:
    prefix, local = curie.split(":", 1)
    return ns(prefix, base) + local


XSD = PREFIXES["xsd"]
RDF_TYPE = PREFIXES["rdf"] + "type"
