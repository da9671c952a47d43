"""SIRET matching, one-source-one-place rule, stable ids across runs (real DuckDB)."""

from stdnum import luhn

from pana_data.archive import Archive
from pana_data.catalog import SourceSpec
from pana_data.dedup import BUNDLED_MODEL, Matching, deduplicate
from pana_data.sources import RawRecord
from pana_data.store import connect, load_source
from pana_data.validate import validate_rows, write_staged


def siret(base8: str, nic4: str) -> str:
    head = base8 + luhn.calc_check_digit(base8) + nic4
    return head + luhn.calc_check_digit(head)


CITY = siret("21870085", "0001")
MDA = siret("41852963", "0002")
ORDER = ["lamednum", "partner", "ligue"]


def load(tmp_path, con, source_id, rows):
    spec = SourceSpec(id=source_id, kind="table", url="x", licence="x")
    raws = [
        RawRecord(record_id=rid, fields=fields, raw=fields, row_number=i)
        for i, (rid, fields) in enumerate(rows, 1)
    ]
    result = validate_rows(spec, raws)
    staged = write_staged(result, tmp_path / "staged", "test")
    body = Archive(tmp_path / "raw").put(source_id, "x", repr(rows).encode())
    load_source(con, source_id, staged, body, result.summary())


def run(con, model=None):
    result = deduplicate(con, ORDER.index, Matching(model=model))
    return result.actors, {a: sorted(m) for a, m in result.members.items()}


def groups(members):
    return sorted(sorted(f"{s}/{r}" for s, r in m) for m in members.values())


def test_shared_siret_across_sources_merges_but_not_within_a_source(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(
        tmp_path,
        con,
        "lamednum",
        [
            ("bib-1", {"nom": "Médiathèque centre", "siret": CITY, "code_postal": "87000"}),
            ("bib-2", {"nom": "Médiathèque Beaubreuil", "siret": CITY, "code_postal": "87280"}),
            (
                "mda",
                {
                    "nom": "Maison des Associations de Limoges",
                    "siret": MDA,
                    "code_postal": "87000",
                    "telephone": "+33555456100",
                },
            ),
        ],
    )
    load(
        tmp_path,
        con,
        "partner",
        [
            (
                "1",
                {
                    "nom": "MDA LIMOGES",
                    "siret": MDA,
                    "code_postal": "87000",
                    "courriel": "contact@mda-limoges.fr",
                    "thematiques": "communication",
                },
            ),
            ("2", {"nom": "Médiathèque (ville)", "siret": CITY, "code_postal": "87000"}),
        ],
    )
    load(
        tmp_path, con, "ligue", [("3", {"nom": "Autre MDA", "siret": MDA, "code_postal": "19100"})]
    )
    actors, members = run(con)
    # The town's SIRET names two places in one source: it is no deterministic key (the
    # probabilistic pass compares names); the MDA's SIRET is, within one town only.
    assert groups(members) == [
        ["lamednum/bib-1"],
        ["lamednum/bib-2"],
        ["lamednum/mda", "partner/1"],
        ["ligue/3"],  # the same SIRET in another town
        ["partner/2"],
    ]
    mda = next(a for a in actors if a.siret == MDA and a.code_postal == "87000")
    # Catalog order decides: the LaMednum name wins, other fields are filled from the partner.
    assert mda.nom == "Maison des Associations de Limoges"
    assert mda.courriel == "contact@mda-limoges.fr" and mda.telephone == "+33555456100"
    assert mda.sources == ["lamednum", "partner"]
    assert [t.value for t in mda.thematiques] == ["communication"]
    # Each published value remembers the record that gave it.
    origin = {
        p["field"]: (p["source_id"], p["record_id"])
        for p in deduplicate(con, ORDER.index).provenance
        if p["actor_id"] == mda.id
    }
    assert origin["nom"] == ("lamednum", "mda") and origin["telephone"] == ("lamednum", "mda")
    assert origin["courriel"] == ("partner", "1") and origin["thematiques"] == ("partner", "1")
    assert "adresse" not in origin  # no record gave one


def test_placeholder_siret_is_not_a_key(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(tmp_path, con, "lamednum", [("a", {"nom": "A", "siret": "00000000000000"})])
    load(tmp_path, con, "partner", [("b", {"nom": "B", "siret": "00000000000000"})])
    _, members = run(con)
    assert len(members) == 2


def test_ids_are_stable_and_inherited(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(
        tmp_path,
        con,
        "partner",
        [
            ("1", {"nom": "MDA", "siret": MDA, "code_postal": "87000"}),
            ("2", {"nom": "Bib", "siret": CITY, "code_postal": "87000"}),
        ],
    )
    _, first = run(con)
    _, again = run(con)
    assert first == again  # unchanged input, unchanged ids

    # A new source whose record sorts first joins the MDA: the cluster keeps its id.
    load(tmp_path, con, "lamednum", [("0", {"nom": "MDA", "siret": MDA, "code_postal": "87000"})])
    _, third = run(con)
    mda_id = next(a for a, m in first.items() if ("partner", "1") in m)
    assert sorted(third[mda_id]) == [("lamednum", "0"), ("partner", "1")]
    bib_id = next(a for a, m in first.items() if ("partner", "2") in m)
    assert third[bib_id] == [("partner", "2")]

    # The MDA leaves the partner file: its id is not handed to anyone else, ever.
    load(tmp_path, con, "partner", [("2", {"nom": "Bib", "siret": CITY, "code_postal": "87000"})])
    load(tmp_path, con, "lamednum", [("9", {"nom": "Nouveau", "code_postal": "87000"})])
    _, fourth = run(con)
    assert mda_id not in fourth
    assert bib_id in fourth
    assert len(fourth) == 2


def test_a_record_absent_for_a_run_gets_its_id_back(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(tmp_path, con, "partner", [("A1", {"nom": "MDA"}), ("B", {"nom": "Bib"})])
    _, first = run(con)
    a1 = next(a for a, m in first.items() if ("partner", "A1") in m)
    load(tmp_path, con, "partner", [("B", {"nom": "Bib"})])
    _, second = run(con)
    assert a1 not in second
    load(tmp_path, con, "partner", [("A1", {"nom": "MDA"}), ("B", {"nom": "Bib"})])
    _, third = run(con)
    assert third == first


def test_a_record_without_postcode_cannot_chain_two_towns(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(tmp_path, con, "lamednum", [("s1", {"nom": "Siège", "siret": MDA})])
    load(
        tmp_path, con, "partner", [("s2", {"nom": "Limoges", "siret": MDA, "code_postal": "87000"})]
    )
    load(tmp_path, con, "ligue", [("s3", {"nom": "Lyon", "siret": MDA, "code_postal": "69001"})])
    actors, members = run(con)
    assert len(members) == 2  # s1 (no postcode) joins one town, never both
    assert not any({"partner/s2", "ligue/s3"} <= set(g) for g in groups(members))
    assert sorted(a.code_postal for a in actors) == ["69001", "87000"]


def test_a_record_joins_the_place_whose_location_matches_best(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(
        tmp_path,
        con,
        "lamednum",
        [
            ("a-centre", {"nom": "Médiathèque du Centre", "siret": CITY}),
            ("b-beaubreuil", {"nom": "Médiathèque de Beaubreuil", "siret": CITY}),
        ],
    )
    load(
        tmp_path,
        con,
        "partner",
        [("x", {"nom": "Médiathèque de Beaubreuil", "siret": CITY, "code_postal": "87280"})],
    )
    # The town's SIRET is ambiguous in lamednum: names decide, not the first pair found.
    _, members = run(con, BUNDLED_MODEL)
    assert groups(members) == [["lamednum/a-centre"], ["lamednum/b-beaubreuil", "partner/x"]]


def test_merge_keeps_a_given_departement_when_no_address_is_known(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(tmp_path, con, "partner", [("1", {"nom": "Réseau départemental", "departement": "87"})])
    (actor,), _ = run(con)
    assert actor.departement == "87" and actor.region.value == "75"


def test_a_reused_record_id_does_not_take_over_an_old_actor(tmp_path):
    # Row-number ids: row 2 was "Maison B", then absent, then "Tiers-lieu C".
    con = connect(tmp_path / "db.duckdb")
    load(tmp_path, con, "partner", [("1", {"nom": "A"}), ("2", {"nom": "Maison B"})])
    _, first = run(con)
    b_id = next(a for a, m in first.items() if ("partner", "2") in m)
    load(tmp_path, con, "partner", [("1", {"nom": "A"})])
    run(con)
    load(tmp_path, con, "partner", [("1", {"nom": "A"}), ("2", {"nom": "Tiers-lieu C"})])
    _, third = run(con)
    c_id = next(a for a, m in third.items() if ("partner", "2") in m)
    assert c_id != b_id
    # Case and accents do not count as a new name.
    load(tmp_path, con, "partner", [("1", {"nom": "A"})])
    run(con)
    load(tmp_path, con, "partner", [("1", {"nom": "A"}), ("2", {"nom": "TIERS-LIEU C"})])
    _, fifth = run(con)
    assert ("partner", "2") in fifth[c_id]


def test_an_absorbed_id_becomes_a_redirect(tmp_path):
    con = connect(tmp_path / "db.duckdb")
    load(tmp_path, con, "lamednum", [("x", {"nom": "MDA", "siret": MDA, "code_postal": "87000"})])
    load(tmp_path, con, "ligue", [("y", {"nom": "MDA", "siret": MDA, "code_postal": "87000"})])
    # The two records first come in different runs, so each gets an id of its own.
    con.execute("DELETE FROM records WHERE source_id = 'ligue'")
    first = deduplicate(con, ORDER.index)
    load(tmp_path, con, "ligue", [("y", {"nom": "MDA", "siret": MDA, "code_postal": "87000"})])
    con.execute("DELETE FROM records WHERE source_id = 'lamednum'")
    second = deduplicate(con, ORDER.index)
    (x_id,) = first.members
    (y_id,) = second.members
    assert x_id != y_id and second.redirects == []  # x vanished: deleted, not absorbed
    load(tmp_path, con, "lamednum", [("x", {"nom": "MDA", "siret": MDA, "code_postal": "87000"})])
    third = deduplicate(con, ORDER.index)
    (merged_id,) = third.members
    assert merged_id in (x_id, y_id)
    absorbed = ({x_id, y_id} - {merged_id}).pop()
    assert [(r["old_id"], r["new_id"]) for r in third.redirects] == [(absorbed, merged_id)]
