"""Source kinds on real-format files: LaMednum CSV, partner CSV (cp1252, ;), XLSX, JSON."""

import json
import re

import pytest
from openpyxl import Workbook

from pana_data.archive import Archive
from pana_data.catalog import SourceSpec
from pana_data.sources import FormatError
from pana_data.sources.tabular import detect_delimiter, detect_encoding, read_csv
from pana_data.validate import parse_source
from tests.helpers import FIXTURES, lamednum_csv, partner_csv

HEADER = ["Nom de la structure", "CP", "Ville", "Téléphone", "N° SIRET", "Niveau"]
ROWS = [
    ["Maison des Associations d'Épinal", "88000", "Épinal", "03 29 82 01 01", "", "Informer"],
    ["MDA Bourg", "1000", "Bourg-en-Bresse", "04.74.45.12.34", "", "orienter"],
]
MAPPING = {
    "nom": "Nom de la structure",
    "code_postal": "CP",
    "commune": "Ville",
    "telephone": "Téléphone",
    "siret": "N° SIRET",
    "niveaux_service": "Niveau",
}


def spec(**kw) -> SourceSpec:
    base = {"id": "partner", "kind": "table", "url": "file.csv", "licence": "etalab-2.0"}
    return SourceSpec.model_validate({**base, **kw})


def archived(tmp_path, body: bytes, name="file.csv"):
    return Archive(tmp_path / "raw").put("partner", name, body)


@pytest.mark.parametrize(
    "encoding,sep",
    [("cp1252", ";"), ("utf-8", ","), ("utf-8-sig", ";"), ("latin-1", "\t"), ("utf-8", "\t")],
)
def test_table_csv_detects_encoding_and_delimiter(tmp_path, encoding, sep):
    body = partner_csv(HEADER, ROWS, encoding=encoding, sep=sep)
    result = parse_source(spec(mapping=MAPPING), archived(tmp_path, body))
    assert result.rejects == []
    names = [r.nom for r in result.records]
    assert names == ["Maison des Associations d'Épinal", "MDA Bourg"]
    assert result.records[1].code_postal == "01000"
    assert result.records[0].telephone == "+33329820101"
    assert [r.record_id for r in result.records] == ["1", "2"]


def test_detectors():
    assert detect_encoding("é".encode("cp1252")) == "cp1252"
    assert detect_encoding("\ufeffé".encode()) == "utf-8-sig"
    assert detect_encoding("é".encode()) == "utf-8"
    assert detect_delimiter("a;b;c\n1;2;3\n") == ";"
    assert detect_delimiter("a\tb\n1\t2\n") == "\t"


def test_table_xlsx(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Code", *HEADER])
    sheet.append(
        [
            "X1",
            "Maison des associations de Nancy",
            54000,
            "Nancy",
            "0383000000",
            None,
            "Accompagner",
        ]
    )
    sheet.append(["X2", "EPN de Vals", 7600, "Vals-les-Bains", 475370000, None, None])
    path = tmp_path / "partner.xlsx"
    book.save(path)
    result = parse_source(
        spec(url="partner.xlsx", mapping=MAPPING, record_id="Code"),
        archived(tmp_path, path.read_bytes(), "partner.xlsx"),
    )
    assert result.rejects == []
    assert [r.record_id for r in result.records] == ["X1", "X2"]
    assert result.records[1].code_postal == "07600"
    assert result.records[1].telephone == "+33475370000"


def test_table_json_with_records_path_and_nested_fields(tmp_path):
    doc = {
        "data": [
            {
                "code": "A",
                "structure": "FOL 87",
                "adresse": {"cp": "87000"},
                "themes": ["communication", "jeux"],
            }
        ]
    }
    result = parse_source(
        spec(
            url="x.json",
            records_path="data",
            record_id="code",
            mapping={"nom": "structure", "code_postal": "adresse.cp", "thematiques": "themes"},
        ),
        archived(tmp_path, json.dumps(doc).encode(), "x.json"),
    )
    (record,) = result.records
    assert record.code_postal == "87000"
    assert [t.value for t in record.thematiques] == ["communication"]
    assert [(w.field, w.reason) for w in result.warnings] == [
        ("thematiques", "unknown thematiques value 'jeux' ignored")
    ]


def test_missing_mapped_column_names_source_and_column(tmp_path):
    body = partner_csv(HEADER, ROWS)
    bad = spec(mapping={**MAPPING, "commune": "Commune"})
    with pytest.raises(FormatError, match="source partner: column\\(s\\) Commune not found"):
        parse_source(bad, archived(tmp_path, body))


def test_lookups_and_constants(tmp_path):
    body = partner_csv(HEADER, [["PIVA Guéret", "23000", "Guéret", "", "", "Info / Orient"]])
    result = parse_source(
        spec(
            mapping=MAPPING,
            lookups={"niveaux_service": {"Info / Orient": "informer|orienter"}},
            constants={"labels": ["pana"], "reseaux": "rnma"},
        ),
        archived(tmp_path, body),
    )
    (record,) = result.records
    assert [n.value for n in record.niveaux_service] == ["informer", "orienter"]
    assert [x.value for x in record.labels] == ["pana"]
    assert [x.value for x in record.reseaux] == ["rnma"]


def test_mediation_numerique_on_the_real_example(tmp_path):
    body = (FIXTURES / "lamednum-exemple-valide.csv").read_bytes()
    result = parse_source(
        spec(id="lamednum", kind="mediation-numerique", url="x.csv"), archived(tmp_path, body)
    )
    assert result.rejects == []
    (record,) = result.records
    assert record.record_id == "structure-1"
    assert record.siret == "43493312300029" and record.siren == "434933123"
    assert record.code_postal == "51100" and record.code_insee == "51454"
    assert record.courriel == "contact@laquincaillerie.tl"
    assert record.site_web == "https://www.laquincaillerie.tl/"
    assert [t.value for t in record.typologie] == ["TIERS_LIEUX", "ASSO"]
    assert [x.value for x in record.labels] == ["aidants-connect", "conseiller-numerique"]
    assert str(record.date_maj) == "2024-04-02"
    # Unknown standard values are not warnings; the dropped second email is.
    assert [(w.field, w.reason) for w in result.warnings] == [
        ("courriel", "kept the first of 2 emails")
    ]


def test_mediation_numerique_pivots(tmp_path):
    rows = [
        {
            "id": "a",
            "pivot": "00000000000000",
            "nom": "Lieu A",
            "commune": "X",
            "code_postal": "87000",
            "adresse": "1 rue",
            "date_maj": "2026-01-01",
        },
        {
            "id": "b",
            "pivot": "W9T1002867",
            "nom": "Lieu B",
            "commune": "X",
            "code_postal": "97600",
            "adresse": "1 rue",
            "date_maj": "2026-01-01",
        },
        {
            "id": "c",
            "pivot": "1234567",
            "nom": "Lieu C",
            "commune": "Nouméa",
            "code_postal": "98800",
            "adresse": "1 rue",
            "date_maj": "2026-01-01",
        },
        {
            "id": "d",
            "pivot": "43493312300029",
            "nom": "Lieu D",
            "commune": "X",
            "code_postal": "51100",
            "adresse": "1 rue",
            "date_maj": "2026-01-01",
            "courriels": "a@b.fr;c@d.fr",
            "typologie": "BIB;MUNI",
        },
    ]
    result = parse_source(
        spec(id="lamednum", kind="mediation-numerique", url="x.csv"),
        archived(tmp_path, lamednum_csv(rows)),
    )
    by_id = {r.record_id: r for r in result.records}
    assert by_id["a"].siret is None and by_id["a"].rna is None
    assert by_id["b"].rna == "W9T1002867" and by_id["b"].departement == "976"
    assert by_id["c"].siret is None
    assert ("c", "pivot") in {(w.record_id, w.field) for w in result.warnings}
    assert [t.value for t in by_id["d"].typologie] == ["BIB", "MUNI"]


def test_csv_reader_keeps_extra_cells():
    rows = [row for _, row in read_csv(b"a,b\n1,2,3\n", None, None)]
    assert rows == [{"a": "1", "b": "2", "__extra__": "3"}]


def test_json_optional_keys_may_be_missing_from_the_first_object(tmp_path):
    doc = [{"nom": "A"}, {"nom": "B", "tel": "05 55 45 61 00"}]
    result = parse_source(
        spec(url="x.json", mapping={"nom": "nom", "telephone": "tel"}),
        archived(tmp_path, json.dumps(doc).encode(), "x.json"),
    )
    assert [(r.nom, r.telephone) for r in result.records] == [("A", None), ("B", "+33555456100")]


def test_json_items_must_be_objects(tmp_path):
    with pytest.raises(FormatError, match="item 1 of the JSON list is a str"):
        list(
            parse_source(
                spec(url="x.json", mapping={"nom": "nom"}),
                archived(tmp_path, b'[{"nom": "A"}, "B"]'),
            ).records
        )


def test_format_is_sniffed_from_the_bytes(tmp_path):
    book = Workbook()
    book.active.append(["Nom de la structure"])
    book.active.append(["EPN"])
    path = tmp_path / "export"
    book.save(path)
    result = parse_source(
        spec(url="https://example.org/export?format=xlsx", mapping={"nom": "Nom de la structure"}),
        archived(tmp_path, path.read_bytes()),
    )
    assert [r.nom for r in result.records] == ["EPN"]


def test_xlsx_with_a_wrong_stored_dimension_loses_no_row(tmp_path):
    import zipfile

    book = Workbook()
    for row in (["Nom"], ["A"], ["B"], ["C"]):
        book.active.append(row)
    path = tmp_path / "in.xlsx"
    book.save(path)
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="A1:A4" ?/>', b'<dimension ref="A1:A2"/>', data)
                assert b'ref="A1:A2"' in data
            dst.writestr(item, data)
    result = parse_source(
        spec(url="b.xlsx", mapping={"nom": "Nom"}), archived(tmp_path, broken.read_bytes())
    )
    assert [r.nom for r in result.records] == ["A", "B", "C"]


def test_duplicate_header_names_keep_every_cell(tmp_path):
    body = partner_csv(["Nom", "Tel", "Tel"], [["MDA", "05 55 45 61 00", "06 00 00 00 00"]])
    result = parse_source(
        spec(mapping={"nom": "Nom", "telephone": "Tel (2)"}), archived(tmp_path, body)
    )
    assert result.records[0].telephone == "+33600000000"


def test_unterminated_quote_fails_the_source_with_its_line(tmp_path):
    body = b'Nom;CP\n"A;87000\nB;87100\nC;87200\n'
    with pytest.raises(FormatError, match="line"):
        list(parse_source(spec(mapping={"nom": "Nom"}), archived(tmp_path, body)).records)


def test_very_long_fields_are_read(tmp_path):
    long_text = "x" * 300_000
    body = partner_csv(["Nom", "Description"], [["MDA", long_text]], encoding="utf-8")
    result = parse_source(
        spec(mapping={"nom": "Nom", "description": "Description"}), archived(tmp_path, body)
    )
    assert len(result.records[0].description) == 300_000


def test_delimiter_is_read_from_the_header_even_with_commas_in_names():
    assert detect_delimiter("Nom;Adresse, voie;CP\n") == ";"
    assert detect_delimiter('nom,adresse\n"a;b",c\n') == ","


def test_string_constants_are_one_value_in_every_kind(tmp_path):
    rows = [{"id": "a", "nom": "Lieu", "dispositif_programmes_nationaux": "Aidants Connect"}]
    result = parse_source(
        spec(id="lamednum", kind="mediation-numerique", url="x.csv", constants={"labels": "pana"}),
        archived(tmp_path, lamednum_csv(rows)),
    )
    assert result.warnings == []
    assert [x.value for x in result.records[0].labels] == ["pana", "aidants-connect"]


def test_lamednum_file_with_semicolons_is_read(tmp_path):
    rows = [{"id": "a", "nom": "Lieu", "code_postal": "87000"}]
    body = lamednum_csv(rows).decode().replace(",", ";").encode()
    result = parse_source(
        spec(id="l", kind="mediation-numerique", url="x.csv"), archived(tmp_path, body)
    )
    assert [r.record_id for r in result.records] == ["a"]


def test_not_a_lamednum_file(tmp_path):
    with pytest.raises(FormatError, match="not a LaMednum file, column.s. id missing"):
        list(
            parse_source(
                spec(id="l", kind="mediation-numerique", url="x.csv"),
                archived(tmp_path, b"nom,ville\nA,B\n"),
            ).records
        )


def test_mixed_utf8_and_cp1252_lines_keep_their_accents(tmp_path):
    body = (
        b"Nom;Ville\n"
        + "Maison des associations;Besançon\n".encode()
        + "L’atelier numérique;Épinal\n".encode("cp1252")
    )
    result = parse_source(
        spec(mapping={"nom": "Nom", "commune": "Ville"}), archived(tmp_path, body)
    )
    assert [(r.nom, r.commune) for r in result.records] == [
        ("Maison des associations", "Besançon"),
        ("L’atelier numérique", "Épinal"),
    ]


def test_empty_json_list_is_zero_rows_not_an_error(tmp_path):
    result = parse_source(
        spec(url="x.json", records_path="data", mapping={"nom": "nom"}),
        archived(tmp_path, b'{"data": []}'),
    )
    assert result.rows == 0 and result.rejects == []


def test_bom_file_with_a_cp1252_line(tmp_path):
    body = b"\xef\xbb\xbf" + "Nom;Ville\nA;Besançon\n".encode() + "B;Épinal\n".encode("cp1252")
    result = parse_source(
        spec(mapping={"nom": "Nom", "commune": "Ville"}), archived(tmp_path, body)
    )
    assert [r.commune for r in result.records] == ["Besançon", "Épinal"]


def test_suffixed_duplicate_never_clashes_with_a_real_column(tmp_path):
    body = partner_csv(["Nom", "Tel", "Tel", "Tel (2)"], [["A", "1", "2", "3"]])
    rows = [row for _, row in read_csv(body, None, None)]
    assert sorted(v for k, v in rows[0].items() if k.startswith("Tel")) == ["1", "2", "3"]


def test_csv_whose_header_starts_with_a_bracket_is_csv(tmp_path):
    body = b"[Nom];Ville\nMDA;Limoges\n"
    result = parse_source(spec(mapping={"nom": "[Nom]"}), archived(tmp_path, body))
    assert [r.nom for r in result.records] == ["MDA"]


def test_blank_rows_do_not_shift_row_number_ids(tmp_path):
    body = partner_csv(["Nom", "CP"], [["A", "87000"], ["", ""], ["B", "87000"]])
    result = parse_source(spec(mapping={"nom": "Nom"}), archived(tmp_path, body))
    assert [(r.record_id, r.nom) for r in result.records] == [("1", "A"), ("3", "B")]
