from rdflib import Graph

from pana_data.rdf import actors_graph, codelists_graph
from pana_data.rdf.mapping import ORG, actor_uri
from pana_data.schema import CODE_LISTS, Actor


def example_actor(**overrides) -> Actor:
    data = {name: info.examples[0] for name, info in Actor.model_fields.items()}
    return Actor.model_validate({**data, **overrides})


def test_turtle_round_trips_with_unusual_but_valid_values():
    actors = [
        example_actor(),
        example_actor(
            id="pana-aaaaaaaaaaaa",
            site_web="https://www.mairie-évry.fr/asso?x=1&y=é#top",
            courriel="o'brien+asso@exemple.fr",
            nom='Le "Lieu" <numérique>',
        ),
    ]
    members = {a.id: [("src", f"rec/{a.id} é")] for a in actors}
    text = actors_graph(actors, members).serialize(format="longturtle")
    parsed = Graph().parse(data=text, format="turtle")
    assert (actor_uri("pana-aaaaaaaaaaaa"), None, ORG.Organization) in parsed
    assert len(parsed) == len(actors_graph(actors, members))


def test_turtle_is_deterministic():
    actors = [example_actor(), example_actor(id="pana-bbbbbbbbbbbb")]
    members = {a.id: [("src", a.id)] for a in actors}
    first = actors_graph(actors, members).serialize(format="longturtle")
    second = actors_graph(list(reversed(actors)), members).serialize(format="longturtle")
    assert first == second


def test_every_code_is_a_skos_concept_with_a_french_label():
    graph = codelists_graph()
    labels = {str(o) for o in graph.objects(None, None) if getattr(o, "language", None) == "fr"}
    for codes in CODE_LISTS.values():
        for member in codes:
            assert member.label in labels
