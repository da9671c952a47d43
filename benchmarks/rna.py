"""`make bench-rna`: time and peak memory of loading a national-size RNA file.

A seeded ~1.5 M-row RNA file is generated (streamed, cached under benchmarks/.data/) with the real
39-column current waldec header, ISO-8859-1, realistic value shapes (accents, quoted `objet` of
about 150 characters sometimes holding `;` and doubled quotes, dates including `0001-01-01`, about
5 % dissolved or deleted). Then, each in its own process (so that the peak RSS is its own), with
`memory_limit='2GB'` and a temp_directory, into a fresh database file:

- baseline: `CREATE TABLE t AS SELECT * FROM read_csv(..., all_varchar=true)` (all 39 columns);
- read_rna: `pana_data.sources.rna.read_rna` (projection, cleaning, dates, flags).

The `## RNA ingestion` section of benchmarks/RESULTS.md is replaced with the numbers.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from benchmarks.run import machine
from pana_data.sources.rna import WALDEC_HEADER

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## RNA ingestion"
MEMORY_LIMIT = "2GB"
HEADER = WALDEC_HEADER

KINDS = (
    "Association", "Amicale laïque", "Comité des fêtes", "Fédération départementale des foyers "
    "ruraux", "Club sportif", "Union musicale", "Maison des associations", "Les amis", "Société "
    "de chasse", "Foyer rural", "Association des parents d'élèves", "Cercle d'échecs", "Chorale",
    "Ciné-club", "Association sportive et culturelle", "Secours populaire, comité",
)  # fmt: skip
TOWNS = (
    ("Limoges", "87000", "87085"), ("Saint-Étienne", "42000", "42218"),
    ("Besançon", "25000", "25056"), ("Orléans", "45000", "45234"),
    ("Châteauroux", "36000", "36044"), ("Épinal", "88000", "88160"),
    ("Nîmes", "30000", "30189"), ("Béziers", "34500", "34032"),
    ("Angoulême", "16000", "16015"), ("Sète", "34200", "34301"),
    ("Ajaccio", "20000", "2A004"), ("Bastia", "20200", "2B033"),
    ("Mamoudzou", "97600", "97611"), ("Saint-Denis", "97400", "97411"),
    ("Pointe-à-Pitre", "97110", "97120"), ("Lyon", "69001", "69381"),
    ("Paris", "75011", "75111"), ("Lille", "59000", "59350"),
    ("Aix-en-Provence", "13100", "13001"), ("Vénissieux", "69200", "69259"),
)  # fmt: skip
DEPTS = {"2A004": "2A", "2B033": "2B", "97611": "9T", "97411": "974", "97120": "971"}
STREETS = (
    "de la République", "Jean-Jaurès", "Victor Hugo", "des Écoles", "du Général de Gaulle",
    "Léon Blum", "de l'Église", "des Frères Lumière", "Émile Zola", "du Château",
)  # fmt: skip
VOIES = ("RUE", "AV", "BD", "PL", "CHE", "IMP", "ALL", "_", "")
PHRASES = (
    "favoriser la pratique du sport pour tous", "promouvoir la culture occitane et limousine",
    "organiser des fêtes, des repas et des animations", "soutenir les familles en difficulté",
    "développer l'accès au numérique des personnes âgées", "gérer une école de musique",
    "défendre l'environnement et le cadre de vie", "créer du lien entre les habitants",
    "accompagner les associations du département", "préserver le patrimoine bâti de la commune",
)  # fmt: skip


def luhn_complete(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def _date(rng: random.Random, start: int = 1901, end: int = 2024) -> str:
    return dt.date.fromordinal(
        rng.randint(dt.date(start, 1, 1).toordinal(), dt.date(end, 12, 31).toordinal())
    ).isoformat()


def _objet(rng: random.Random) -> str:
    parts = rng.sample(PHRASES, 3)
    roll = rng.random()
    if roll < 0.15:
        return " ; ".join(parts)  # quoted by the writer
    if roll < 0.2:
        return f'{parts[0]}, dit "{parts[1]}", et {parts[2]}'  # doubled quotes
    return ", ".join(parts)


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write the file row by row through a buffered writer: memory stays flat."""
    rng = random.Random(seed)
    tmp = path.with_suffix(".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="latin-1", newline="", buffering=1 << 20) as f:
        writer = csv.writer(f, delimiter=";", quotechar='"', lineterminator="\n")
        writer.writerow(HEADER)
        for n in range(rows):
            town, cp, insee = TOWNS[n % len(TOWNS)] if rng.random() < 0.3 else rng.choice(TOWNS)
            dept = DEPTS.get(insee, insee[:2])
            gestion = dept if len(dept) == 3 else f"{dept}1"
            old = rng.random() < 0.02  # very old rows: an alphanumeric id, no RNA number
            entry = f"{dept}1P{n:08d}" if old else f"W{gestion}{n % 1_000_000:06d}"
            name = f"{rng.choice(KINDS)} de {town}"
            position = "A" if rng.random() < 0.95 else rng.choice("DDS")
            roll = rng.random()
            if position == "D" or roll < 0.01:
                disso = _date(rng, 2000)
            else:
                disso = "0001-01-01"
            siret = luhn_complete(f"{rng.randrange(10**12, 10**13)}") if roll < 0.2 else ""
            voie = rng.choice(VOIES)
            writer.writerow(
                (
                    entry,
                    "" if rng.random() < 0.7 else f"{rng.randrange(10**9):010d}",
                    siret,
                    "",
                    f"{gestion}P",
                    "0001-01-01" if rng.random() < 0.05 else _date(rng),
                    _date(rng, 2000),
                    _date(rng),
                    disso,
                    "D",
                    rng.choice("SSSSSUF"),
                    name,
                    name[:35].upper() if rng.random() < 0.5 else "",
                    _objet(rng),
                    f"{rng.randrange(1, 40):03d}{rng.randrange(0, 30):03d}",
                    "000000" if rng.random() < 0.6 else f"{rng.randrange(1, 40):03d}000",
                    "" if rng.random() < 0.8 else "Bâtiment B, 2e étage",
                    "" if voie in ("_", "") else str(rng.randrange(1, 200)),
                    "B" if rng.random() < 0.03 else "",
                    voie,
                    rng.choice(STREETS),
                    "_",
                    insee,
                    cp,
                    town,
                    "",
                    "",
                    "",
                    f"{rng.randrange(1, 99)} CHEMIN DES DÉCLARANTS",
                    "",
                    cp,
                    town.upper(),
                    "FRANCE",
                    rng.choice(("PM", "PP", "TS")),
                    "" if rng.random() < 0.9 else f"www.asso-{n}.example.fr",
                    "0",
                    "",
                    position,
                    f"{_date(rng, 2005)} 10:{n % 60:02d}:00",
                )
            )
    tmp.replace(path)


def _connect(work: Path, name: str) -> duckdb.DuckDBPyConnection:
    db = work / f"{name}.duckdb"
    db.unlink(missing_ok=True)
    spill = work / f"{name}.spill"
    shutil.rmtree(spill, ignore_errors=True)
    spill.mkdir(parents=True)
    con = duckdb.connect(str(db))
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET temp_directory = ?", [str(spill)])
    return con


def _pipeline(data: Path, work: Path) -> tuple[int, int]:
    """The pipeline's own stages on the file, as `pana run` does them: harvest (stream into the
    archive), parse (the register loader, then Parquet), load (the register table of the store)."""
    import yaml

    from pana_data.catalog import load_catalog
    from pana_data.pipeline import Workspace, harvest_stage, load_stage, parse_stage
    from pana_data.store import connect

    folder = work / "pipeline-run"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = {"id": "rna", "kind": "rna", "url": str(data), "licence": "etalab-2.0"}
    (folder / "catalog.yaml").write_text(yaml.safe_dump({"sources": [source]}), encoding="utf-8")
    catalog = load_catalog(folder / "catalog.yaml")
    ws = Workspace(folder / "out")
    harvested = harvest_stage(catalog, "rna", ws)
    parsed = parse_stage(catalog, "rna", harvested, ws)
    load_stage("rna", parsed, harvested, ws)
    con = connect(ws.db)
    rows = con.execute('SELECT count(*) FROM "register_rna"').fetchone()[0]
    con.close()
    shutil.copy(ws.db, work / "pipeline.duckdb")
    shutil.rmtree(folder, ignore_errors=True)
    return rows, parsed["summary"].get("rejected", 0)


def child(kind: str, data: Path, work: Path) -> None:
    """Runs in its own process: one load, one JSON line."""
    con = _connect(work, kind)
    started = time.perf_counter()
    rejected = None
    if kind == "baseline":
        con.execute(
            "CREATE TABLE t AS SELECT * FROM read_csv(?, delim=';', header=true, "
            "encoding='latin-1', all_varchar=true)",
            [str(data)],
        )
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    elif kind == "read_rna":
        from pana_data.sources.rna import read_rna

        result = read_rna(con, [data], "rna", workdir=work)
        rows, rejected = result.rows, result.rejected
    elif kind == "pipeline":
        con.close()
        rows, rejected = _pipeline(data, work)
        con = duckdb.connect(str(work / f"{kind}.duckdb"))
    else:
        raise ValueError(kind)
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    con.close()
    size_mb = (work / f"{kind}.duckdb").stat().st_size / 2**20
    print(
        json.dumps(
            {"kind": kind, "rows": rows, "rejected": rejected, "seconds": seconds,
             "peak_mb": peak_mb, "db_mb": size_mb}
        )
    )  # fmt: skip


def write_section(results: Path, text: str, section: str = SECTION) -> None:
    """Replace (or append) one `## ` section, leaving the rest of the file alone."""
    old = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    start = old.find(section)
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(section))
        new = old[:start] + text + ("" if end == -1 else "\n" + old[end + 1 :])
    results.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / ".data" / "rna"))
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DATA", "WORK"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    work = Path(args.work)
    data = work / f"rna-{args.rows}-seed{args.seed}.csv"
    if not data.exists():
        started = time.perf_counter()
        generate(data, args.rows, args.seed)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    size_mb = data.stat().st_size / 2**20
    results = {}
    for kind in ("baseline", "read_rna", "pipeline"):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.rna", "--child", kind, str(data), str(work)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(results[kind]), flush=True)
        (work / f"{kind}.duckdb").unlink(missing_ok=True)
        shutil.rmtree(work / f"{kind}.spill", ignore_errors=True)

    a, b, c = results["baseline"], results["read_rna"], results["pipeline"]
    lines = [
        SECTION,
        "",
        f"Run on {dt.date.today().isoformat()} by `make bench-rna` "
        f"({' '.join(sys.argv[1:]) or 'defaults'}).",
        "",
        f"Machine: {machine()}.",
        "",
        f"Data: `benchmarks/rna.py` (seed {args.seed}), {args.rows:,} rows, {size_mb:.0f} MB, the "
        "real 39-column current waldec header, ISO-8859-1, `;`; accented names, quoted `objet` "
        "of about 150 characters (15 % holding `;`, 5 % doubled quotes), `0001-01-01` dates, "
        "about 5 % D/S. Each load runs in its own process into a fresh DuckDB file with "
        f"`memory_limit='{MEMORY_LIMIT}'` and a temp_directory; peak MB is that process's max "
        "RSS. Baseline: `CREATE TABLE AS SELECT * FROM read_csv(all_varchar=true)`, all 39 "
        "columns; read_rna: the loader (20 projected, cleaned and typed columns, reject count); "
        "pipeline: what `pana run` does with an `rna` source, harvest (streamed into the "
        "content-addressed archive), parse (read_rna, then Parquet) and load (the store's "
        "register table).",
        "",
        "| load | rows | rejected | seconds | peak MB | database MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in (a, b, c):
        rejected = "" if r["rejected"] is None else f"{r['rejected']:,}"
        lines.append(
            f"| {r['kind']} | {r['rows']:,} | {rejected} | {r['seconds']:.1f} | "
            f"{r['peak_mb']:.0f} | {r['db_mb']:.0f} |"
        )
    lines += [
        "",
        f"read_rna / baseline: {b['seconds'] / a['seconds']:.2f}× the time, "
        f"{b['peak_mb'] / a['peak_mb']:.2f}× the peak memory; pipeline / baseline: "
        f"{c['seconds'] / a['seconds']:.2f}× the time, {c['peak_mb'] / a['peak_mb']:.2f}× the "
        f"peak memory. Targets for the pipeline's ingestion of this file: ≤ 90 s "
        f"({'met' if c['seconds'] <= 90 else 'MISSED'}) and ≤ 2 GB peak RSS "
        f"({'met' if c['peak_mb'] <= 2048 else 'MISSED'}).",
        "",
    ]
    write_section(Path(args.results), "\n".join(lines))
    print(f"wrote {SECTION} in {args.results}")


if __name__ == "__main__":
    main()
