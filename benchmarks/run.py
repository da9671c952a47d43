"""`make bench`: deduplication quality, time and memory on labelled synthetic data.

For each size, a seeded multi-source data set is generated in the real formats, ingested through
the pipeline's own stages (harvest, parse, validate, load into DuckDB), then each matcher is run
in its own process so that its peak memory is its own. Scores are pairwise precision, recall and
F1 against the generator's truth. Results go to benchmarks/RESULTS.md with the machine's
description; compare matchers as ratios within one run, not across machines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
MATCHERS = ("exact-key", "splink")
MODEL = ROOT / "pana_data" / "dedup" / "model.json"


def ingest(data: Path) -> Path:
    from pana_data.catalog import load_catalog
    from pana_data.pipeline import Workspace, harvest_stage, load_stage, parse_stage

    catalog = load_catalog(data / "catalog.yaml")
    ws = Workspace(data / "out")
    if ws.db.exists():
        return ws.db
    for spec in catalog.sources:
        body = harvest_stage(catalog, spec.id, ws)
        load_stage(spec.id, parse_stage(catalog, spec.id, body, ws), body, ws)
    return ws.db


def run_matcher(name: str, db: Path) -> list[list[tuple[str, str]]]:
    """The production path, with the deterministic pass alone (exact keys: valid SIRET or RNA and
    a compatible location) or followed by Splink."""
    from pana_data.dedup import Matching, match_records

    models = {"exact-key": None, "splink": MODEL}
    if name not in models:
        raise ValueError(f"unknown matcher {name}")
    from pana_data.store import limit_memory

    copy = duckdb.connect()  # work on a copy: the benchmark database stays read-only
    limit_memory(copy, db.parent / "spill")
    copy.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
    copy.execute("CREATE TABLE records AS SELECT * FROM src.records")
    copy.execute("DETACH src")
    return match_records(copy, Matching(model=models[name])).clusters


def score(clusters: list[list[tuple[str, str]]], truth: dict[tuple[str, str], str]) -> dict:
    predicted = sum(math.comb(len(c), 2) for c in clusters)
    both = Counter()
    for i, members in enumerate(clusters):
        for key in members:
            both[(i, truth[key])] += 1
    true_positive = sum(math.comb(n, 2) for n in both.values())
    actual = sum(math.comb(n, 2) for n in Counter(truth.values()).values())
    precision = true_positive / predicted if predicted else 1.0
    recall = true_positive / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "pairs": predicted,
        "true_pairs": actual,
    }


def child(matcher: str, data: Path) -> None:
    """Runs in its own process: match, score, print one JSON line."""
    db = data / "out" / "work" / "pana.duckdb"
    started = time.perf_counter()
    clusters = run_matcher(matcher, db)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before scoring
    truth = {}
    with (data / "truth.csv").open(encoding="utf-8") as f:
        next(f)
        for line in f:
            source, record, entity = line.rstrip("\n").split(",")
            truth[(source, record)] = entity
    result = score(clusters, truth)
    result.update(
        matcher=matcher,
        seconds=seconds,
        records=len(truth),
        clusters=len(clusters),
        largest_cluster=max((len(c) for c in clusters), default=0),
        peak_mb=peak_mb,
    )
    print(json.dumps(result))


def train_bundled(work: Path, size: int = 100_000, seed: int = 1001) -> None:
    """Train the bundled model on data generated with another seed than the benchmark's, so the
    benchmark scores it on data it has not seen."""
    from benchmarks.synth import generate
    from pana_data.dedup.features import build_features
    from pana_data.dedup.probabilistic import train

    data = work / f"train-{size}-seed{seed}"
    if not (data / "truth.csv").exists():
        generate(data, size, seed=seed)
    db = ingest(data)
    con = duckdb.connect()
    con.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
    con.execute("CREATE TABLE records AS SELECT * FROM src.records")
    build_features(con)
    train(con, MODEL)
    print(f"trained {MODEL} on {data}")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, {platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--matchers", default=",".join(MATCHERS))
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / ".data"))
    parser.add_argument("--child", nargs=2, metavar=("MATCHER", "DATA"))
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument(
        "--train-model",
        action="store_true",
        help="retrain the bundled Splink model on held-out synthetic data (seed 1001, 100k)",
    )
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    if args.train_model:
        train_bundled(Path(args.work))
        return

    from benchmarks.synth import generate

    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        data = Path(args.work) / f"synth-{size}"
        if not (data / "truth.csv").exists():
            started = time.perf_counter()
            generate(data, size)
            print(f"generated {size} records in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        ingest(data)
        ingest_s = time.perf_counter() - started
        print(f"ingested {size} records in {ingest_s:.1f} s", flush=True)
        for matcher in args.matchers.split(","):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.run", "--child", matcher, str(data)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["size"] = size
            print(json.dumps(result), flush=True)
            rows.append(result)

    lines = [
        "# Benchmark results",
        "",
        f"Run on {dt.date.today().isoformat()} by `make bench` ({' '.join(sys.argv[1:]) or 'defaults'}).",
        "",
        f"Machine: {machine()}.",
        "",
        "Data: `benchmarks/synth.py` (seed 7), three sources in the real formats (LaMednum CSV, "
        "cp1252 `;` partner table, JSON list), about 1.6 records per real actor, with typos, "
        "abbreviations, case and accents, missing and placeholder SIRET, phone formats, "
        "coordinate jitter and hard negatives. Scores are pairwise against the generator's truth. "
        "Time and peak memory are the matcher's own (its own process), after ingestion.",
        "",
        "| records | matcher | precision | recall | F1 | seconds | peak MB | clusters | largest |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['matcher']} | {r['precision']:.4f} | {r['recall']:.4f} | "
            f"{r['f1']:.4f} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['clusters']:,} | "
            f"{r['largest_cluster']} |"
        )
    # Other benchmarks' `## ` sections (`make bench-rna`, `make bench-rdf`) are kept as they are.
    results = Path(args.results)
    old = results.read_text(encoding="utf-8") if results.exists() else ""
    start = old.find("\n## ")
    kept = "" if start == -1 else old[start:].rstrip("\n") + "\n"
    results.write_text("\n".join(lines) + "\n" + kept, encoding="utf-8")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
