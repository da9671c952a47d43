import pytest

from pana_data.catalog import DEMO_CATALOG, CatalogError, load_catalog


def write(tmp_path, text):
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_catalog_loads_with_its_kinds():
    catalog = load_catalog()
    assert catalog.path == DEMO_CATALOG.resolve()
    assert {s.kind for s in catalog.sources} == {"mediation-numerique", "table", "rna"}
    assert len(catalog.sources) >= 3
    for spec in catalog.sources:
        assert (DEMO_CATALOG.parent / spec.url).exists()


def test_relative_and_http_locations(tmp_path):
    catalog = load_catalog(
        write(
            tmp_path,
            "sources:\n"
            "  - {id: a, kind: table, url: data/a.csv, licence: etalab-2.0}\n"
            "  - {id: b, kind: table, url: 'https://example.org/b.csv', licence: CC-BY-4.0}\n",
        )
    )
    assert catalog.location(catalog.source("a")) == str(tmp_path / "data" / "a.csv")
    assert catalog.location(catalog.source("b")) == "https://example.org/b.csv"
    assert catalog.priority("b") == 1


def test_errors_name_file_source_and_field(tmp_path):
    path = write(
        tmp_path,
        "sources:\n"
        "  - {id: good, kind: table, url: a.csv, licence: x}\n"
        "  - {id: bad-one, kind: table, url: a.csv, delimiter: ':'}\n",
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    text = str(err.value)
    assert str(path) in text
    assert "source bad-one: licence: Field required" in text
    assert "source bad-one: delimiter" in text


def test_duplicate_ids_and_bad_yaml(tmp_path):
    with pytest.raises(CatalogError, match="appears twice"):
        load_catalog(
            write(
                tmp_path,
                "sources:\n  - {id: a, kind: table, url: a, licence: x}\n"
                "  - {id: a, kind: table, url: b, licence: x}\n",
            )
        )
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(write(tmp_path, "sources: [\n"))
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml")


def test_unknown_option_is_refused(tmp_path):
    with pytest.raises(CatalogError, match="source a: mappings: Extra inputs"):
        load_catalog(
            write(
                tmp_path, "sources:\n  - {id: a, kind: table, url: a, licence: x, mappings: {}}\n"
            )
        )


def test_share_alike_source_needs_a_share_alike_catalog(tmp_path):
    source = "  - {id: osm, kind: table, url: a.csv, licence: ODbL-1.0}\n"
    with pytest.raises(CatalogError, match="source osm is under ODbL-1.0 .share-alike."):
        load_catalog(write(tmp_path, "sources:\n" + source))
    catalog = load_catalog(write(tmp_path, "licence: ODbL-1.0\nsources:\n" + source))
    assert catalog.licence == "ODbL-1.0"
    loose = "  - {id: osm, kind: table, url: a.csv, licence: odbl}\n"
    with pytest.raises(CatalogError, match="must be ODbL-1.0"):
        load_catalog(write(tmp_path, "sources:\n" + loose))
    assert load_catalog(write(tmp_path, "licence: ODbL-1.0\nsources:\n" + loose))


def test_lookup_targets_must_be_codes(tmp_path):
    text = (
        "sources:\n  - id: a\n    kind: table\n    url: a.csv\n    licence: x\n"
        "    lookups: {typologie: {Médiathèque: MEDIATHEQUE, Bibli: BIB, Rien: null}}\n"
    )
    with pytest.raises(CatalogError, match="'Médiathèque' maps to 'MEDIATHEQUE', not a code"):
        load_catalog(write(tmp_path, text))
    ok = load_catalog(write(tmp_path, text.replace("MEDIATHEQUE", "Bibliothèque / Médiathèque")))
    assert ok.sources[0].lookups["typologie"]["Rien"] is None
