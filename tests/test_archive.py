import hashlib
import json
import threading
from pathlib import Path

from pana_data.archive import Archive


def test_identical_bodies_archived_concurrently(tmp_path):
    archive = Archive(tmp_path)
    body = b"nom;cp\n" * 100_000
    errors: list[BaseException] = []

    def put(i: int) -> None:
        try:
            archive.put(f"source-{i}", "file:///x.csv", body)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    for _ in range(20):
        threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    digest = hashlib.sha256(body).hexdigest()
    assert (tmp_path / "objects" / digest[:2] / digest).read_bytes() == body
    assert len(archive.history("source-0")) == 20
    assert not [p for p in (tmp_path / "objects" / digest[:2]).iterdir() if p.name != digest]


def test_put_file_moves_the_temp_into_its_address(tmp_path):
    archive = Archive(tmp_path)
    body = b"a;b\n1;2\n"
    digest = hashlib.sha256(body).hexdigest()
    for _ in range(2):
        tmp = archive.tmp_dir / "dl-x"
        tmp.write_bytes(body)
        entry = archive.put_file(
            "s", "http://h/x", tmp, digest, len(body), 200, {"etag": '"1"'}, request="GET k"
        )
        assert not tmp.exists()
        assert entry.read() == body and entry.request == "GET k" and entry.status == 200
    assert entry.path == str(tmp_path / "objects" / digest[:2] / digest)
    assert list((tmp_path / "objects" / digest[:2]).iterdir()) == [Path(entry.path)]
    assert len(archive.history("s")) == 2
    assert archive.history("s")[0].headers == {"etag": '"1"'}


def test_last_ok_newest_200_or_replay_with_existing_object(tmp_path):
    archive = Archive(tmp_path)
    assert archive.last_ok("GET k") is None
    old = archive.put("s", "u", b"old", 200, request="GET k")
    assert archive.last_ok("GET k") == old
    archive.put("s", "u", b"error", 500, request="GET k")
    archive.put("s", "u", b"other", 200, request="GET other")
    archive.put("s", "u", b"no key", 200)
    assert archive.last_ok("GET k") == old
    new = archive.put("s", "u", b"new", 200, request="GET k")
    replay = archive.replay("s", "u", new, request="GET k")
    assert replay.not_modified and replay.downloaded == 0 and replay.sha256 == new.sha256
    assert archive.last_ok("GET k") == replay
    Path(new.path).unlink()
    assert archive.last_ok("GET k") == old  # the newer object is gone: the older one still is


def test_old_index_lines_still_load(tmp_path):
    archive = Archive(tmp_path)
    body = archive.put("s", "file:///x.csv", b"x")
    old = {
        k: v
        for k, v in body.to_json().items()
        if k in ("source_id", "url", "sha256", "size", "fetched_at", "path", "status", "headers")
    }
    future = {**old, "some_future_field": 1}
    index = tmp_path / "index.jsonl"
    index.write_text(json.dumps(old) + "\n" + json.dumps(future) + "\n")
    rows = archive.history("s")
    assert len(rows) == 2
    assert rows[0].request is None and rows[0].final_url is None
    assert rows[0].downloaded == 0 and rows[0].not_modified is False
    assert rows[0].read() == b"x"


def test_tmp_dir_created_on_demand(tmp_path):
    archive = Archive(tmp_path / "a")
    assert not (tmp_path / "a").exists()
    assert archive.tmp_dir == tmp_path / "a" / "tmp" and archive.tmp_dir.is_dir()
