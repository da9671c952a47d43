"""The raw archive: every harvested body is kept, content-addressed, with where and when it came
from, so any published version can be rebuilt from raw bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path

_INDEX_LOCK = threading.Lock()  # one index line at a time within this process


@dataclass(frozen=True)
class ArchivedBody:
    source_id: str
    url: str
    sha256: str
    size: int
    fetched_at: str
    path: str
    status: int | None = None
    headers: dict[str, str] | None = None
    # Added with the HTTP layer; defaulted so older index lines still load.
    request: str | None = None  # stable request key (method, URL, sorted query, body hash)
    final_url: str | None = None  # after redirects
    downloaded: int = 0  # bytes received over the wire for this entry (0: replay, local file)
    not_modified: bool = False  # a 304 answer replaying an earlier object
    rejected: bool = False  # a marker: the body of this request must not be replayed

    def read(self) -> bytes:
        return Path(self.path).read_bytes()

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> ArchivedBody:
        """Load an index line, ignoring fields this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in known})


def _remember(newest: dict[str, ArchivedBody], entry: ArchivedBody) -> None:
    """Fold one index entry into the request key -> newest reusable entry map."""
    if not entry.request:
        return
    if entry.rejected:
        newest.pop(entry.request, None)
    elif entry.sha256 and (entry.status == 200 or (entry.status == 304 and entry.not_modified)):
        newest[entry.request] = entry


class Archive:
    """``root/objects/ab/abcdef…`` holds bodies; ``root/index.jsonl`` one line per harvest;
    ``root/tmp/`` holds downloads in progress (same filesystem, so they can be renamed in)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._newest: dict[str, ArchivedBody] | None = None  # request key -> newest good entry

    @property
    def tmp_dir(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _object_path(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / digest

    def put(
        self,
        source_id: str,
        url: str,
        body: bytes,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **meta,
    ) -> ArchivedBody:
        digest = hashlib.sha256(body).hexdigest()
        target = self._object_path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # A unique temporary name: concurrent harvests of identical bytes never collide.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{digest[:8]}-")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        return self._record(source_id, url, digest, len(body), target, status, headers, meta)

    def put_file(
        self,
        source_id: str,
        url: str,
        tmp_path: str | Path,
        sha256: str,
        size: int,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **meta,
    ) -> ArchivedBody:
        """Move an already written (and hashed) temporary file, on the archive's filesystem
        (e.g. under :attr:`tmp_dir`), to its content address; the temp file is gone afterwards."""
        tmp_path = Path(tmp_path)
        target = self._object_path(sha256)
        if target.exists():
            tmp_path.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, target)  # atomic; identical bytes racing here are harmless
        return self._record(source_id, url, sha256, size, target, status, headers, meta)

    def replay(
        self,
        source_id: str,
        url: str,
        previous: ArchivedBody,
        status: int | None = 304,
        headers: dict[str, str] | None = None,
        **meta,
    ) -> ArchivedBody:
        """Record a new harvest whose body is an already archived object (e.g. a 304 answer)."""
        meta.setdefault("not_modified", True)
        meta.setdefault("downloaded", 0)
        target = Path(previous.path)
        return self._record(
            source_id, url, previous.sha256, previous.size, target, status, headers, meta
        )

    def _record(self, source_id, url, digest, size, target, status, headers, meta):
        entry = ArchivedBody(
            source_id=source_id,
            url=url,
            sha256=digest,
            size=size,
            fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            path=str(target),
            status=status,
            headers=headers,
            **meta,
        )
        self._append(entry)
        return entry

    def _append(self, entry: ArchivedBody) -> None:
        line = (json.dumps(entry.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
        self.root.mkdir(parents=True, exist_ok=True)
        with _INDEX_LOCK:
            # One O_APPEND write per line: concurrent writers never interleave within a line.
            fd = os.open(self.root / "index.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            if self._newest is not None:
                _remember(self._newest, entry)

    def _entries(self) -> list[ArchivedBody]:
        index = self.root / "index.jsonl"
        if not index.exists():
            return []
        rows = []
        for line in index.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                rows.append(ArchivedBody.from_json(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: skip it, keep the rest
        return rows

    def history(self, source_id: str) -> list[ArchivedBody]:
        return [e for e in self._entries() if e.source_id == source_id]

    def last_ok(self, request_key: str) -> ArchivedBody | None:
        """The newest 200 (or 304 replay of one) for this request key whose object still exists,
        unless it was rejected since.

        The index is read once per ``Archive`` and kept as a dict, then updated by every entry
        this object writes: a crawl of many pages never re-reads it."""
        with _INDEX_LOCK:
            if self._newest is None:
                self._newest = {}
                for entry in self._entries():
                    _remember(self._newest, entry)
            entry = self._newest.get(request_key)
        if entry is None or Path(entry.path).is_file():
            return entry
        # The newest object is gone from disk (rare): an older one may still be there.
        for older in reversed(self._entries()):
            if older.request != request_key:
                continue
            if older.rejected:
                return None
            reusable: dict[str, ArchivedBody] = {}
            _remember(reusable, older)
            if reusable and Path(older.path).is_file():
                return older
        return None

    def reject(self, entry: ArchivedBody) -> None:
        """Never replay ``entry`` for its request again (e.g. an HTML page where data was
        expected): the next request is made unconditionally."""
        self._append(ArchivedBody.from_json({**entry.to_json(), "status": None, "rejected": True}))
