"""The RNA loader (pana_data.sources.rna) on copies of the real samples and on generated
fixtures (tests/fixtures/rna, written by tests/fixtures/rna/generate.py)."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import zipfile
from pathlib import Path

import duckdb
import pytest

from pana_data.sources.rna import RNA_COLUMNS, RnaLoad, detect_encoding, read_rna, rna_files
from tests.helpers import FIXTURES

RNA = FIXTURES / "rna"
CURRENT = RNA / "rna_waldec_sample_current_header.csv"
WALDEC_2018 = RNA / "rna_as_api_fixture_rna_waldec_2018format.csv"
IMPORT_2018 = RNA / "rna_as_api_fixture_rna_import_2018format.csv"
EXTRACT = RNA / "rna_waldec_extract_latin1.csv"
MALFORMED = RNA / "rna_waldec_malformed_latin1.csv"
ZIP = RNA / "rna_waldec_departements.zip"


def _generator():
    spec = importlib.util.spec_from_file_location("rna_fixture_generator", RNA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    yield con
    con.close()


def load(con, paths, table="rna") -> tuple[RnaLoad, dict[str, dict]]:
    result = read_rna(con, [Path(p) for p in paths], table)
    cur = con.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return result, {r["entry_id"]: r for r in rows}


def input_rows(path: Path, encoding: str) -> list[dict[str, str]]:
    text = path.read_bytes().decode(encoding)
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def personal_values(rows: list[dict[str, str]]) -> set[str]:
    """Values of the declarant columns that no public column of the same input also holds."""
    personal, public = set(), set()
    for r in rows:
        for name, value in r.items():
            if name is None or not value or not value.strip():
                continue
            is_personal = name.startswith("adrg_") or name in ("dir_civilite", "telephone", "email")
            (personal if is_personal else public).add(value.strip())
    return personal - public


def assert_no_declarant_data(con, table: str, personal: set[str]) -> None:
    names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    assert list(names) == list(RNA_COLUMNS)
    assert not [n for n in names if n.startswith("adrg_") or n in ("telephone", "email")]
    cells = [c for row in con.execute(f"SELECT * FROM {table}").fetchall() for c in row]
    strings = [c for c in cells if isinstance(c, str)]
    assert strings
    leaks = [s for s in strings if s in personal]
    leaks += [s for s in strings for m in GEN.DECLARANT_MARKERS if m in s]
    assert leaks == []
    # nor in any table left behind (DuckDB's reject tables hold whole raw lines)
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    assert tables == [table]


# --- fixtures are what the generator writes --------------------------------------------------


def test_generated_fixtures_are_up_to_date():
    assert EXTRACT.read_bytes() == GEN.extract_latin1()
    assert MALFORMED.read_bytes() == GEN.malformed_latin1()
    with (
        zipfile.ZipFile(ZIP) as committed,
        zipfile.ZipFile(io.BytesIO(GEN.departements_zip())) as fresh,
    ):
        assert committed.namelist() == fresh.namelist()
        for name in committed.namelist():
            assert committed.read(name) == fresh.read(name)


def test_extract_is_latin1_with_the_real_mayotte_rows():
    raw = EXTRACT.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("latin-1")
    real = CURRENT.read_text(encoding="utf-8").splitlines()
    assert text.splitlines()[: len(real)] == real
    assert len(text.splitlines()) == 1 + 4 + 20


# --- encoding ----------------------------------------------------------------------------------


def test_detect_encoding():
    assert detect_encoding(EXTRACT) == "latin-1"
    assert detect_encoding(MALFORMED) == "latin-1"
    assert detect_encoding(CURRENT) == "utf-8"
    assert detect_encoding(WALDEC_2018) == "utf-8"  # ASCII


def test_detect_encoding_samples_beyond_the_start(tmp_path):
    head = CURRENT.read_text(encoding="utf-8")
    ascii_rows = "W123456789;;;;;;;;;;;ASCII ONLY\n" * 200_000  # ~6 MB of ASCII
    late = tmp_path / "late.csv"
    late.write_bytes(head.encode() + ascii_rows.encode() + "Amicale laïque\n".encode("latin-1"))
    assert detect_encoding(late) == "latin-1"  # found by the sample at the end
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + head.encode())
    assert detect_encoding(bom) == "utf-8"
    # a UTF-8 character cut by a sample boundary is not mistaken for Latin-1
    cut = tmp_path / "cut.csv"
    cut.write_bytes(("é" * (3 << 20)).encode())
    assert detect_encoding(cut) == "utf-8"


def test_a_utf8_guess_proved_wrong_further_in_is_read_again_as_latin1(con, tmp_path):
    # ASCII in every sample (start, 4 MiB, 16 MiB, middle, end), Latin-1 in between
    header = CURRENT.read_text(encoding="utf-8").splitlines()[0]
    filler = "W000000001;;;;;;;;;;;Filler;;;;;;;;;;;;;;;;;;;;;;;;;;;A;\n"
    hidden = "W871000001;;;;;2001-01-01;;;;;;Amicale laïque;;;;;;;;;;;;;;;;;;;;;;;;;;A;\n"
    path = tmp_path / "hidden.csv"
    with path.open("wb") as f:
        f.write((header + "\n").encode())
        f.write((filler * 25_000).encode())  # ~1.5 MB: past the first MiB, before the middle
        f.write(hidden.encode("latin-1"))
        f.write((filler * 55_000).encode())
    assert detect_encoding(path) == "utf-8"
    result, rows = load(con, [path])
    assert result.rows == 80_001 and result.rejected == 0
    assert result.encodings == {str(path): "latin-1"}
    assert rows["W871000001"]["nom_legal"] == "Amicale laïque"


def test_windows_1252_characters_in_a_latin1_file(con, tmp_path):
    header = CURRENT.read_text(encoding="utf-8").splitlines()[0]
    line = (
        "W871000002;;;;;;;;;;;Chorale À cœur joie ’Limoges’;;;;;;;;;;;;;Saint-Cœur;;;;;;;;;;;;;A;\n"
    )
    path = tmp_path / "cp1252.csv"
    path.write_bytes((header + "\n" + line).encode("cp1252"))
    assert detect_encoding(path) == "latin-1"
    result, rows = load(con, [path])
    assert result.encodings == {str(path): "windows-1252"}  # transcoded: DuckDB refuses C1 bytes
    assert rows["W871000002"]["nom_legal"] == "Chorale À cœur joie ’Limoges’"
    assert rows["W871000002"]["commune"] == "Saint-Cœur"


# --- the real samples ----------------------------------------------------------------------------


def test_real_current_header_sample(con):
    result, rows = load(con, [CURRENT])
    assert result == RnaLoad(rows=4, rejected=0, errors={}, encodings={str(CURRENT): "utf-8"})
    escale = rows["W9T1002359"]
    assert escale["rna"] == "W9T1002359"
    assert escale["ferme"] is True
    assert escale["position"] == "D"
    assert escale["date_dissolution"] == dt.date(2020, 9, 30)
    assert escale["date_creation"] == dt.date(2014, 6, 12)
    assert escale["date_maj"] == dt.date(2024, 10, 22)
    assert escale["adresse"] == "Jardins des épices - Immeuble le Cannelier"
    assert escale["commune"] == "Mamoudzou"
    assert escale["code_postal"] == "97600" and escale["code_insee"] == "97611"
    assert escale["objet_social1"] == "024026" and escale["objet_social2"] == "024020"

    vie = rows["W9T1002867"]
    assert vie["rna"] == "W9T1002867"  # Mayotte: a letter in third place
    assert vie["ferme"] is False and vie["position"] == "A"
    assert vie["date_dissolution"] is None  # 0001-01-01
    assert vie["nom_legal"] == "LA VIE D'UN AGRICULTEUR & LA VIE D'UN ANIMAL"
    assert vie["sigle"] == "LA VIE D'UN AGRICULTEUR & LA VIE D..."
    assert vie["adresse"] == "16 Dallage Iliassa, quartier Magoujou"
    assert vie["complement_adresse"] == "Hamjago"
    assert vie["commune"] == "M tsamboro"
    assert vie["objet_social2"] is None  # 000000
    assert vie["siret"] is None and vie["site_web"] is None

    assert rows["W9T1000001"]["adresse"] == "RUE du stade"
    assert rows["W9T1000018"]["ferme"] is True
    assert rows["W9T1000018"]["date_dissolution"] == dt.date(2024, 5, 15)
    assert_no_declarant_data(con, "rna", personal_values(input_rows(CURRENT, "utf-8")))


def test_real_2018_samples_both_headers(con):
    result, rows = load(con, [WALDEC_2018, IMPORT_2018])
    assert result.rows == 6 and result.rejected == 0
    owl = rows["W632007046"]
    assert owl["nom_legal"] == "BLACK OWL" and owl["adresse"] == "35 RUE Pascal"
    assert owl["ferme"] is True and owl["date_dissolution"] == dt.date(2015, 1, 20)
    assert owl["commune"] == "Clermont-Ferrand" and owl["code_postal"] == "63000"
    assert rows["W012000002"]["date_dissolution"] is None
    assert rows["W012000002"]["ferme"] is False
    # the import header: adr1..3, libcom, no date_disso, an old alphanumeric id
    indigo = rows["751P00085568"]
    assert indigo["rna"] is None
    assert indigo["adresse"] == "10 BD Brune"
    assert indigo["commune"] == "PARIS" and indigo["code_insee"] == "75114"
    assert indigo["date_creation"] == dt.date(1988, 4, 15)
    assert indigo["date_dissolution"] is None and indigo["sigle"] is None
    assert indigo["date_maj"] == dt.date(2013, 7, 10)
    assert indigo["position"] == "R" and indigo["ferme"] is False
    assert rows["751P00188854"]["objet_social2"] == "005000"
    personal = personal_values(input_rows(WALDEC_2018, "utf-8") + input_rows(IMPORT_2018, "utf-8"))
    assert "0676561853" in personal  # the 2018 header's telephone
    assert_no_declarant_data(con, "rna", personal)


# --- the Latin-1 extract ----------------------------------------------------------------------


def test_latin1_extract(con):
    result, rows = load(con, [EXTRACT], table="extract")
    assert result.rows == 24 and result.rejected == 0
    assert result.encodings == {str(EXTRACT): "latin-1"}
    assert rows["W9T1002359"]["adresse"] == "Jardins des épices - Immeuble le Cannelier"
    assert rows["W9T1002359"]["date_dissolution"] == dt.date(2020, 9, 30)
    assert rows["W9T1002867"]["date_dissolution"] is None

    mda = rows["W872000101"]
    assert mda["nom_legal"] == "Maison des associations de Limoges"
    assert mda["sigle"] == "MDA LIMOGES"
    assert mda["siret"] == GEN.SIRET_MDA
    assert mda["adresse"] == "12 PL Léon Betoulle"
    assert mda["site_web"] == "https://mda-limoges.example.org"
    assert mda["objet_social1"] == "017010" and mda["objet_social2"] is None
    assert rows["W872000102"]["nom_legal"] == "Amicale laïque de Saint-Junien"
    assert rows["W872000102"]["date_creation"] is None  # 0001-01-01
    fed = rows["W872000103"]
    assert fed["nom_legal"] == "Fédération départementale des foyers ruraux de la Haute-Vienne"
    assert fed["siret"] == GEN.SIRET_FED  # spaces dropped
    assert fed["groupement"] == "F"
    assert rows["W872000106"]["nom_legal"] == 'Les "Amis" du théâtre ; Limoges'
    assert rows["W872000106"]["sigle"] == "AMIS THÉÂTRE"
    assert rows["W872000107"]["adresse"] == "27 BD de la Corderie"
    corse = rows["W2A1000456"]
    assert corse["rna"] == "W2A1000456" and corse["code_insee"] == "2A004"
    assert rows["872P00001234"]["rna"] is None
    assert rows["W872000110"]["siret"] is None  # a SIREN, not a SIRET
    assert rows["W872000111"]["siret"] is None  # placeholder
    assert rows["W872000112"]["adresse"] == "3 B BD Gambetta"
    assert rows["W872000112"]["complement_adresse"] == "Bâtiment C"
    assert rows["W872000113"]["adresse"] == "Le Bourg"  # '_' parts dropped
    assert rows["W872000114"]["date_creation"] is None  # unparsable
    assert rows["W872000114"]["date_maj"] is None  # 0001-01-01 00:00:00
    assert rows["W872000115"]["objet_social1"] is None
    assert rows["W872000116"]["commune"] == "Saint-Léonard-de-Noblat"
    assert rows["W872000118"]["nom_legal"] == "Association « Bien vieillir » à Panazol"
    assert rows["W872000119"]["nom_legal"] == "Les jardins partagés de Couzeix"
    assert rows["W872000119"]["sigle"] is None
    assert rows["W872000120"]["adresse"] == "6 RUE des Arènes"

    ferme = {k for k, r in rows.items() if r["ferme"]}
    assert ferme == {
        "W9T1002359",  # D, 2020-09-30
        "W9T1000018",  # D, 2024-05-15
        "W872000104",  # D, 2019-03-31
        "W872000105",  # S, no date
        "W872000115",  # D, 2021-06-30
        "W872000117",  # A but dissolved 2022-01-15
    }
    assert rows["W872000105"]["date_dissolution"] is None
    assert rows["W872000117"]["date_dissolution"] == dt.date(2022, 1, 15)
    assert_no_declarant_data(con, "extract", personal_values(input_rows(EXTRACT, "latin-1")))


def test_no_date_is_null_everywhere(con):
    load(con, [EXTRACT, CURRENT, WALDEC_2018, IMPORT_2018])
    for column in ("date_creation", "date_dissolution", "date_maj"):
        found = con.execute(f"SELECT count(*) FROM rna WHERE {column} = DATE '0001-01-01'")
        assert found.fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM rna WHERE date_dissolution IS NULL").fetchone()[0]


def test_empty_strings_are_null(con):
    load(con, [EXTRACT, CURRENT, WALDEC_2018, IMPORT_2018])
    for column, kind in RNA_COLUMNS.items():
        if kind == "VARCHAR":
            found = con.execute(f"SELECT count(*) FROM rna WHERE trim({column}) = ''")
            assert found.fetchone()[0] == 0, column


# --- zip of per-département files, malformed rows ---------------------------------------------


def test_zip_mixing_headers_and_encodings(con, tmp_path):
    files = rna_files(ZIP, tmp_path / "unzipped")
    assert [f.name for f in files] == [
        "rna_waldec_20250101_dpt_2B.csv",
        "rna_waldec_20250101_dpt_87.csv",
    ]
    assert all(f.parent == tmp_path / "unzipped" for f in files)
    assert rna_files(EXTRACT, tmp_path / "unused") == [EXTRACT]
    result, rows = load(con, files)
    assert result.rows == 6 and result.rejected == 0
    assert sorted(result.encodings.values()) == ["latin-1", "utf-8"]
    assert rows["W2B1000501"]["commune"] == "L'Île-Rousse"
    assert rows["W2B1000501"]["nom_legal"] == "Association des amis de l'Île-Rousse"
    assert rows["W2B1000502"]["ferme"] is True and rows["W2B1000502"]["position"] == "S"
    assert rows["W2B1000502"]["site_web"] == "http://foyer-calvi.example"
    assert rows["W2B1000503"]["nom_legal"] == 'Cercle "U Muntese" ; chants'
    assert rows["W2B1000503"]["date_creation"] is None
    assert rows["W872000301"]["nom_legal"] == "Maison de quartier du Val de l'Aurence"
    assert rows["W872000301"]["adresse"] == "7 RUE Fernand Léger"
    assert rows["W872000302"]["ferme"] is True
    assert rows["W872000303"]["commune"] == "Feytiat"
    personal = personal_values(input_rows(files[0], "utf-8") + input_rows(files[1], "latin-1"))
    assert {"0695123456", "jean.declarant@example.org"} <= personal
    assert_no_declarant_data(con, "rna", personal)


def test_malformed_rows_are_counted_not_kept(con):
    result, rows = load(con, [MALFORMED])
    assert result.rows == 3
    assert result.rejected == 2
    assert result.errors == {"MISSING COLUMNS": 1, "TOO MANY COLUMNS": 1}
    assert set(rows) == {"W872000201", "W872000202", "W872000203"}
    assert rows["W872000202"]["nom_legal"] == "Théâtre de l'Union"
    # the reject tables (whole raw lines, declarant included) are gone
    assert_no_declarant_data(con, "rna", personal_values(input_rows(MALFORMED, "latin-1")))


def test_replaces_the_table_and_accepts_no_files(con):
    load(con, [CURRENT])
    result, rows = load(con, [])
    assert result.rows == 0 and rows == {}
    assert [r[1] for r in con.execute("DESCRIBE rna").fetchall()] == list(RNA_COLUMNS.values())


def test_not_an_rna_file(con, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an RNA file"):
        read_rna(con, [other], "rna")


def test_windows_1252_bytes_beyond_the_samples(con, tmp_path):
    # Latin-1 at the start, a Windows-1252 byte only between the samples: DuckDB's Latin-1 reader
    # refuses the file, it is then transcoded
    header = CURRENT.read_text(encoding="utf-8").splitlines()[0]
    filler = "W000000001;;;;;;;;;;;Filler à part;;;;;;;;;;;;;;;;;;;;;;;;;;;A;\n"
    hidden = "W871000003;;;;;;;;;;;L’œuvre d’art;;;;;;;;;;;;;;;;;;;;;;;;;;A;\n"
    path = tmp_path / "late-cp1252.csv"
    with path.open("wb") as f:
        f.write((header + "\n").encode())
        f.write((filler * 25_000).encode("latin-1"))
        f.write(hidden.encode("cp1252"))
        f.write((filler * 55_000).encode("latin-1"))
    assert detect_encoding(path) == "latin-1"
    result, rows = load(con, [path], table="late")
    assert result.rows == 80_001 and result.rejected == 0
    assert result.encodings == {str(path): "windows-1252"}
    assert rows["W871000003"]["nom_legal"] == "L’œuvre d’art"
    assert rows["W000000001"]["nom_legal"] == "Filler à part"
    assert [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()] == [
        "late"
    ]


def test_import_header_alone_into_a_qualified_table(con):
    result, rows = load(con, [IMPORT_2018], table="main.rna_import")
    assert result.rows == 3
    assert all(r["date_dissolution"] is None and r["ferme"] is False for r in rows.values())
    assert rows["751P00184848"]["adresse"] == "9 RUE Pinel"
