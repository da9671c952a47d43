"""Shared test helpers: paths and writers of fixtures in the sources' real formats."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO = ROOT / "pana_data" / "demo"

LAMEDNUM_HEADER = (
    "id,pivot,nom,commune,code_postal,code_insee,adresse,complement_adresse,latitude,longitude,"
    "typologie,telephone,courriels,site_web,horaires,presentation_resume,presentation_detail,"
    "source,itinerance,structure_parente,date_maj,services,publics_specifiquement_adresses,"
    "prise_en_charge_specifique,frais_a_charge,dispositif_programmes_nationaux,formations_labels,"
    "autres_formations_labels,modalites_acces,modalites_accompagnement,fiche_acces_libre,prise_rdv"
).split(",")


def lamednum_csv(rows: list[dict]) -> bytes:
    """A LaMednum CSV (UTF-8, comma) with the full v1.0.2 header."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LAMEDNUM_HEADER, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue().encode("utf-8")


def partner_csv(header: list[str], rows: list[list[str]], encoding="cp1252", sep=";") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def tool(name: str) -> str | None:
    """A console script of this environment, or a system tool."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def rapper_check(path: Path, syntax: str = "turtle") -> None:
    """``rapper -c`` parses the file and finds triples. rapper (Debian raptor2-utils) must be
    installed in CI; elsewhere the test is skipped without it."""
    import pytest

    rapper = tool("rapper")
    if rapper is None:
        if os.environ.get("CI"):
            pytest.fail("rapper (raptor2-utils) must be installed in CI")
        pytest.skip("rapper not installed (apt-get install raptor2-utils)")
    result = subprocess.run([rapper, "-i", syntax, "-c", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, (path.name, result.stderr)
    assert "returned" in result.stderr and " 0 triples" not in result.stderr, path.name


def published_texts(folder: Path) -> list[tuple[str, str]]:
    """(name, text) of every file of a published version, gzipped files decompressed, Parquet
    files as the CSV of their rows (read by DuckDB)."""
    import gzip

    import duckdb

    out = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix == ".parquet":
            rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
            out.append((path.name, "\n".join(",".join(map(str, row)) for row in rows)))
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        out.append((path.name, data.decode("utf-8")))
    return out


def changed_demo(folder: Path) -> Path:
    """A copy of the bundled demo where the Maison de la Vie Associative of Bourg-en-Bresse has a
    new phone number: the smallest change a partner sends. Returns the catalog's path."""
    demo = ROOT / "pana_data" / "demo"
    shutil.copytree(demo, folder)
    data = folder / "data" / "rnma_annuaire_maisons_associations.csv"
    text = data.read_bytes()
    old = b";04.74.45.12.34;"
    assert text.count(old) == 1
    data.write_bytes(text.replace(old, b";04.74.45.12.99;"))
    return folder / "catalog.yaml"
