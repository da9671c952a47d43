"""The deduplication as a whole: held-out labelled data through the real pipeline, the rules
that keep precision, and maintainers' judgements."""

import csv
import math
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.synth import generate
from pana_data.dedup import BUNDLED_MODEL, Matching, match_records
from pana_data.dedup.judgements import JudgementError, Judgements, load_judgements
from pana_data.dedup.match import cluster
from pana_data.pipeline import run_pipeline
from pana_data.store import connect
from tests.helpers import partner_csv


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def pairwise(assigned: dict, truth: dict) -> tuple[float, float, float]:
    predicted = sum(math.comb(n, 2) for n in Counter(assigned.values()).values())
    actual = sum(math.comb(n, 2) for n in Counter(truth.values()).values())
    both = sum(math.comb(n, 2) for n in Counter((assigned[k], truth[k]) for k in truth).values())
    precision, recall = both / predicted, both / actual
    return precision, recall, 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """Labelled data the bundled model never saw (another seed than its training set)."""
    data = tmp_path_factory.mktemp("held-out")
    generate(data, 1500, seed=99)
    truth = {(r["source_id"], r["record_id"]): r["entity_id"] for r in read_csv(data / "truth.csv")}
    return data, truth


def test_held_out_data_through_the_pipeline_scores_well_and_keeps_ids(held_out, tmp_path):
    data, truth = held_out
    first = run_pipeline(data / "catalog.yaml", tmp_path / "out")
    links = {
        (r["source_id"], r["record_id"]): r["actor_id"]
        for r in read_csv(first / "actors_sources.csv")
    }
    assert set(links) == set(truth)  # no record lost
    precision, recall, f1 = pairwise(links, truth)
    assert precision >= 0.98 and f1 >= 0.95, (precision, recall, f1)
    # The SIRET-only pass alone is far below: the probabilistic pass is doing the work.
    con = connect(tmp_path / "out" / "work" / "pana.duckdb")
    deterministic = match_records(con, Matching(model=None)).clusters
    con.close()
    only_siret = {k: i for i, members in enumerate(deterministic) for k in members}
    assert pairwise(only_siret, truth)[2] < f1 - 0.2
    second = run_pipeline(data / "catalog.yaml", tmp_path / "out")
    again = {
        (r["source_id"], r["record_id"]): r["actor_id"]
        for r in read_csv(second / "actors_sources.csv")
    }
    assert again == links  # a rerun keeps every id


# A town's two libraries (two SIRETs, near-identical names and addresses) and its MDA, twice.
MARBEL = [
    ["a", "Médiathèque de Marbel", "30 avenue Jean Jaurès", "42194", "Marbel", "04 07 39 31 97", "21870085400019"],
    ["b", "Médiathèque de Marbel", "30 av. Jean Jaurès", "42194", "Marbel", "04 07 39 31 97", "21870085400126"],
    ["c", "Maison des associations de Marbel", "2 place de la Gare", "42194", "Marbel", "04 07 00 00 00", ""],
    ["d", "MDA MARBEL", "2 pl. de la Gare", "42194", "Marbel", "0407000000", ""],
]  # fmt: skip


def records_table(tmp_path, rows: list[list[str]]):
    """Load partner rows (Code, Nom, CP, Ville, Tel, SIRET) through the real pipeline stages."""
    from pana_data.catalog import load_catalog
    from pana_data.pipeline import Workspace, harvest_stage, load_stage, parse_stage

    (tmp_path / "p.csv").write_bytes(
        partner_csv(["Code", "Nom", "Adresse", "CP", "Ville", "Tel", "SIRET"], rows)
    )
    (tmp_path / "catalog.yaml").write_text(
        "sources:\n  - {id: p, kind: table, url: p.csv, licence: x, record_id: Code, "
        "mapping: {nom: Nom, adresse: Adresse, code_postal: CP, commune: Ville, telephone: Tel, siret: SIRET}}\n"
    )
    catalog = load_catalog(tmp_path / "catalog.yaml")
    ws = Workspace(tmp_path / "out")
    body = harvest_stage(catalog, "p", ws)
    load_stage("p", parse_stage(catalog, "p", body, ws), body, ws)
    return connect(ws.db)


def test_shared_phone_alone_never_merges(tmp_path):
    con = records_table(
        tmp_path,
        [
            [
                "a",
                "Fédération des centres sociaux de la Creuse",
                "1 rue A",
                "23000",
                "Guéret",
                "05 55 00 00 01",
                "",
            ],
            [
                "b",
                "Tiers-lieu La Quincaillerie",
                "7 rue B",
                "23000",
                "Guéret",
                "05 55 00 00 01",
                "",
            ],
        ],
    )
    result = match_records(con, Matching(model=BUNDLED_MODEL))
    assert len(result.clusters) == 2


def test_two_valid_sirets_go_to_review_not_merge(tmp_path):
    con = records_table(tmp_path, MARBEL)
    result = match_records(con, Matching(model=BUNDLED_MODEL, review=0.1))
    assert len(result.clusters) == 4
    reviewed = {(r["record_id_1"], r["record_id_2"]): r for r in result.review}
    # Two valid, different SIRETs: two establishments until a maintainer says otherwise.
    assert reviewed[("a", "b")]["score"] >= 0.99
    assert reviewed[("a", "b")]["reasons"].endswith("not merged: two different SIRETs")
    # One source lists distinct places: its own near-duplicates are asked, never merged.
    assert reviewed[("c", "d")]["score"] >= 0.99
    assert reviewed[("c", "d")]["reasons"].endswith("not merged: both from one source")


def test_cluster_obeys_judgements():
    a, b, c = ("s1", "a"), ("s2", "b"), ("s1", "c")
    # Judged the same: merged even within one source, which the rules refuse.
    assert cluster([a, c], [], judged_same=[(a, c)]) == [[a, c]]
    # Judged different: never together, not even through a third record.
    assert cluster([a, b, c], [(a, b), (b, c)], judged_different=[(a, b)]) == [[a], [c, b]]
    assert cluster([a, b, c], [], judged_same=[(a, b), (b, c)], judged_different=[(a, c)]) == [
        [a, b],
        [c],
    ]


def test_judgements_file(tmp_path):
    path = tmp_path / "judgements.csv"
    header = "source_id_1,record_id_1,source_id_2,record_id_2,judgement,author,date\n"
    path.write_text(
        header
        + "p,a,p,b,same,amelie,2026-11-01\n"
        + "p,c,q,d,different,amelie,2026-11-02\n"
        + "p,b,p,a,different,bruno,2026-11-20\n"  # a later judgement of the same pair wins
    )
    judgements = load_judgements(path)
    assert judgements.same == []
    assert sorted(judgements.different) == [(("p", "b"), ("p", "a")), (("p", "c"), ("q", "d"))]
    assert judgements.of(("p", "a"), ("p", "b")) == "different"
    path.write_text(header + "p,a,p,b,maybe,amelie,2026-11-01\n")
    with pytest.raises(
        JudgementError, match=r"judgements.csv:2: judgement must be same or different"
    ):
        load_judgements(path)
    path.write_text("a,b\n")
    with pytest.raises(JudgementError, match="missing column"):
        load_judgements(path)
    assert load_judgements(tmp_path / "absent.csv") == Judgements([], [])


def test_judgements_override_the_model_in_a_run(tmp_path):
    records_table(tmp_path, MARBEL).close()
    (tmp_path / "judgements.csv").write_text(
        "source_id_1,record_id_1,source_id_2,record_id_2,judgement,author,date\n"
        "p,a,p,b,same,amelie,2026-11-01\n"
        "p,c,p,d,different,amelie,2026-11-01\n"
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("judgements: judgements.csv\n" + catalog.read_text())
    version = run_pipeline(catalog, tmp_path / "out")
    groups = Counter(r["actor_id"] for r in read_csv(version / "actors_sources.csv"))
    by_record = {r["record_id"]: r["actor_id"] for r in read_csv(version / "actors_sources.csv")}
    assert by_record["a"] == by_record["b"] and by_record["c"] != by_record["d"]
    assert sorted(groups.values()) == [1, 1, 2]
    assert read_csv(version / "review.csv") == []  # judged pairs are not asked again
