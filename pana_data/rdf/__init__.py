"""Linked data: the actor -> triples mapping, its writers, the SKOS code lists, the minted
vocabulary and the SHACL shapes."""

from .mapping import Uris, release_blocks, release_triples
from .shapes import shapes_graph
from .terms import DEFAULT_BASE, all_prefixes
from .vocab import BASE, codelists_graph, vocabulary_graph
from .writers import context, to_rdflib, write_rdf, write_release_rdf

__all__ = [
    "BASE",
    "DEFAULT_BASE",
    "Uris",
    "all_prefixes",
    "codelists_graph",
    "context",
    "release_blocks",
    "release_triples",
    "shapes_graph",
    "to_rdflib",
    "vocabulary_graph",
    "write_rdf",
    "write_release_rdf",
]
