"""Linked data: the actor -> triples mapping and the SKOS code lists."""

from .mapping import BASE, actors_graph
from .vocab import codelists_graph

__all__ = ["BASE", "actors_graph", "codelists_graph"]
