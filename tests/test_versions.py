"""Versions: atomic publication under kill -9, one publisher at a time, no change no version,
deltas (changes.jsonl, CHANGELOG.md, `pana diff`, `pana versions`), GeoJSON and Parquet."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pana_data import pipeline
from pana_data.cli import app
from pana_data.pipeline import run_pipeline
from pana_data.publish.versions import PublishError, publish, publishing_lock, read_versions
from tests.helpers import ROOT, changed_demo, lamednum_csv
from tests.test_pipeline import read_csv, write_catalog


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("versions")
    out = tmp / "out"
    first = run_pipeline(None, out)
    second = run_pipeline(changed_demo(tmp / "demo"), out)
    return out, first, second


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_change_in_one_source_shows_exactly_that_change(two_versions):
    out, first, second = two_versions
    assert first != second
    bourg = next(r for r in read_csv(second / "actors.csv") if "Bourg-en-Bresse" in r["nom"])
    assert lines(second / "changes.jsonl") == [
        {"op": "MOD", "id": bourg["id"], "fields": {"telephone": ["+33474451234", "+33474451299"]}}
    ]
    changelog = (second / "CHANGELOG.md").read_text()
    assert f"# Changements de {first.name} à {second.name}" in changelog
    assert "0 ajoutés, 1 modifiés, 0 supprimés" in changelog
    assert "| rnma-maisons-associations | 0 | 1 | 0 |" in changelog
    assert "| telephone | 1 |" in changelog
    assert "| 01 | 0 | 1 | 0 |" in changelog  # Bourg-en-Bresse is in the Ain
    # The first version: every actor added.
    added = lines(first / "changes.jsonl")
    assert {c["op"] for c in added} == {"ADD"} and len(added) == len(read_csv(first / "actors.csv"))
    versions = read_versions(out)
    assert versions["latest"] == second.name
    entry = versions["versions"][-1]
    assert entry["previous"] == first.name and entry["counts"]["changes"]["MOD"] == 1


def test_pana_diff_and_versions(two_versions):
    out, first, second = two_versions
    runner = CliRunner()
    result = runner.invoke(app, ["diff", first.name, second.name, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == (second / "CHANGELOG.md").read_text()
    result = runner.invoke(app, ["diff", first.name, second.name, "--out", str(out), "--jsonl"])
    assert result.output == (second / "changes.jsonl").read_text()
    backwards = runner.invoke(app, ["diff", second.name, first.name, "-o", str(out), "--jsonl"])
    change = json.loads(backwards.output)
    assert change["fields"]["telephone"] == ["+33474451299", "+33474451234"]
    listed = runner.invoke(app, ["versions", "--out", str(out)]).output.splitlines()
    assert [line.split()[0] for line in listed] == [first.name, second.name]
    assert listed[1].endswith("(latest)") and "MOD 1" in listed[1]
    missing = runner.invoke(app, ["diff", first.name, "2001-01-01", "--out", str(out)])
    assert missing.exit_code == 1 and "no version 2001-01-01" in missing.output


def test_added_and_deleted_actors(tmp_path):
    rows = [{"id": f"l{i}", "nom": f"Lieu numérique {i}", "code_postal": "87000"} for i in range(3)]
    (tmp_path / "lieux.csv").write_bytes(lamednum_csv(rows))
    catalog = write_catalog(
        tmp_path,
        [{"id": "lieux", "kind": "mediation-numerique", "url": "lieux.csv", "licence": "x"}],
    )
    first = run_pipeline(catalog, tmp_path / "out")
    ids = {r["nom"]: r["id"] for r in read_csv(first / "actors.csv")}
    rows = rows[1:] + [{"id": "l9", "nom": "Tiers-lieu de Panazol", "code_postal": "87350"}]
    (tmp_path / "lieux.csv").write_bytes(lamednum_csv(rows))
    second = run_pipeline(catalog, tmp_path / "out")
    changes = lines(second / "changes.jsonl")
    assert [c["id"] for c in changes] == sorted(c["id"] for c in changes)
    ops = {c["op"]: c for c in changes}
    assert sorted(ops) == ["ADD", "DEL"] and len(changes) == 2
    assert ops["DEL"]["id"] == ids["Lieu numérique 0"]
    assert ops["DEL"]["fields"]["nom"] == ["Lieu numérique 0", None]
    assert ops["DEL"]["fields"]["code_postal"] == ["87000", None]
    assert ops["ADD"]["fields"]["nom"] == [None, "Tiers-lieu de Panazol"]
    assert ops["ADD"]["id"] not in ids.values()


def test_geojson_and_parquet_are_written_by_duckdb(two_versions):
    _, _, second = two_versions
    actors = read_csv(second / "actors.csv")
    parquet = duckdb.sql(
        f"SELECT id, thematiques, latitude, date_maj FROM read_parquet('{second}/actors.parquet')"
        " ORDER BY id"
    ).fetchall()
    assert [row[0] for row in parquet] == sorted(a["id"] for a in actors)
    by_id = {a["id"]: a for a in actors}
    some = next(row for row in parquet if by_id[row[0]]["thematiques"])
    assert isinstance(some[1], list) and "|".join(some[1]) == by_id[some[0]]["thematiques"]
    geojson = json.loads((second / "actors.geojson").read_text())
    assert geojson["type"] == "FeatureCollection"
    located = {a["id"]: a for a in actors if a["latitude"] and a["longitude"]}
    assert located and len(geojson["features"]) == len(located)
    for feature in geojson["features"]:
        actor = located[feature["id"]]
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        assert feature["geometry"]["coordinates"] == [
            float(actor["longitude"]),
            float(actor["latitude"]),
        ]
        assert feature["properties"]["nom"] == actor["nom"]
        assert "latitude" not in feature["properties"]


def test_two_publishers_never_run_at_once(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with publishing_lock(out):
        with pytest.raises(PublishError, match="another publisher holds"):
            run_pipeline(None, out)
    assert not (out / "latest").exists()
    assert run_pipeline(None, out).exists()  # the lock is released


def publish_inputs(tmp_path: Path, monkeypatch) -> dict:
    """The inputs the demo's pipeline gives ``publish``."""
    captured = {}

    def capture(inputs, out_dir):
        captured.update(inputs)
        return publish(inputs, out_dir)

    monkeypatch.setattr(pipeline, "publish", capture)
    run_pipeline(None, tmp_path / "first")
    return captured


CHILD = """
import pickle, sys
from pana_data.publish.versions import publish
from pana_data.rdf import writers
writers.CHUNK = 4  # the demo's actors in parts, rendered by worker processes
if __name__ == "__main__":
    inputs = pickle.load(open(sys.argv[1], "rb"))
    print(publish(inputs, sys.argv[2]), flush=True)
"""


def marked_processes(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (workers a publisher started included)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes():
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(proc.name))
        except OSError:
            continue
    return found


def check_latest(out: Path) -> str:
    """The latest version is listed, complete and matches its checksums."""
    versions = json.loads((out / "versions.json").read_text())
    latest = versions["latest"]
    assert (out / "latest").resolve() == (out / latest).resolve()
    entry = next(v for v in versions["versions"] if v["id"] == latest)
    for name, digest in entry["files"].items():
        assert hashlib.sha256((out / "latest" / name).read_bytes()).hexdigest() == digest, name
    package = json.loads((out / "latest" / "datapackage.json").read_text())
    assert {r["path"] for r in package["resources"]} | {"datapackage.json"} == set(entry["files"])
    assert len(read_csv(out / "latest" / "actors.csv")) == entry["counts"]["actors"]
    return latest


def test_kill_9_at_random_points_always_leaves_a_readable_latest(tmp_path, monkeypatch):
    inputs = publish_inputs(tmp_path, monkeypatch)
    out = tmp_path / "out"
    marker = f"PANA_KILL_TEST={os.getpid()}-{time.time_ns()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker.split("=")[0]: marker.split("=")[1]}

    def start(i: int) -> subprocess.Popen:
        actor = inputs["actors"][0]
        changed = {**inputs, "actors": [actor.model_copy(update={"horaires": f"v{i}"})]
                   + inputs["actors"][1:]}  # fmt: skip
        path = tmp_path / f"inputs-{i}.pickle"
        path.write_bytes(pickle.dumps(changed))
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(out)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    started = time.monotonic()
    first = start(0)
    assert first.wait(120) == 0, first.stderr.read()
    duration = time.monotonic() - started
    previous = check_latest(out)
    rng = random.Random(20261127)
    killed = 0
    for i in range(1, 21):
        child = start(i)
        time.sleep(rng.uniform(0, duration))
        child.send_signal(signal.SIGKILL)
        code = child.wait(60)
        killed += code == -signal.SIGKILL
        latest = check_latest(out)  # the previous one, or the new one when it got that far
        assert latest in (previous, read_versions(out)["versions"][-1]["id"])
        previous = latest
    assert killed >= 10  # most runs were cut short, at random points
    finisher = start(99)
    assert finisher.wait(120) == 0, finisher.stderr.read()
    latest = check_latest(out)
    listed = [v["id"] for v in read_versions(out)["versions"]]
    on_disk = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[0].isdigit())
    assert on_disk == sorted(listed) and latest == listed[-1]
    assert not [p for p in out.iterdir() if p.name.startswith((".build-", ".versions"))]
    # Workers of killed publishers exit too: nothing is left running, or writing.
    deadline = time.monotonic() + 10
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marked_processes(marker) == []


def test_pana_run_says_when_nothing_changed(tmp_path):
    from flows.cli import app as run_app

    runner = CliRunner()
    out = tmp_path / "out"
    first = runner.invoke(run_app, ["run", "--local", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"published {out}/")
    second = runner.invoke(run_app, ["run", "--local", "--out", str(out)])
    assert second.exit_code == 0, second.output
    version = read_versions(out)["latest"]
    assert second.output.startswith(f"unchanged since {version}: no new version")
    assert "  ok     rnma-maisons-associations" in second.output


def test_a_publication_cut_after_versions_json_is_completed_by_the_next_run(tmp_path, monkeypatch):
    from pana_data.publish import versions as v

    inputs = publish_inputs(tmp_path, monkeypatch)
    out = tmp_path / "out"
    first = publish(inputs, out)
    changed = {**inputs, "licence": "ODbL-1.0"}  # content for the files: a new version

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after versions.json, before the symlink

    monkeypatch.setattr(v, "_point_latest", killed)
    with pytest.raises(KeyboardInterrupt):
        publish(changed, out)
    latest = read_versions(out)["latest"]
    assert latest != first.name and os.readlink(out / "latest") == first.name
    monkeypatch.undo()
    assert publish(changed, out) == out / latest  # same content: no version, but repaired
    assert os.readlink(out / "latest") == latest
    assert f"/{latest}/" in (out / "catalog.ttl").read_text()


def test_folders_without_versions_json_are_never_removed(tmp_path, monkeypatch):
    inputs = publish_inputs(tmp_path, monkeypatch)
    out = tmp_path / "out"
    first = publish(inputs, out)
    (out / "versions.json").unlink()
    with pytest.raises(PublishError, match="no versions.json"):
        publish({**inputs, "base_uri": "https://example.org/pana/"}, out)
    assert (first / "actors.csv").exists()


def test_an_unlisted_version_folder_is_set_aside_and_its_id_not_reused(tmp_path, monkeypatch):
    inputs = publish_inputs(tmp_path, monkeypatch)
    out = tmp_path / "out"
    first = publish(inputs, out)
    orphan = out / f"{first.name}-2"  # renamed into place, then the publisher was killed
    orphan.mkdir()
    (orphan / "actors.csv").write_text("partial")
    second = publish({**inputs, "warnings": []}, out)
    assert second.name == f"{first.name}-3" and not orphan.exists()
    assert (out / f".orphan-{first.name}-2" / "actors.csv").read_text() == "partial"
    assert [x["id"] for x in read_versions(out)["versions"]] == [first.name, second.name]
