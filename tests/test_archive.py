import hashlib
import threading

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
