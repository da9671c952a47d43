"""The raw archive: every harvested body is kept, content-addressed, with where and when it came
from, so any published version can be rebuilt from raw bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path


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

    def read(self) -> bytes:
        return Path(self.path).read_bytes()

    def to_json(self) -> dict:
        return asdict(self)


class Archive:
    """``root/objects/ab/abcdef…`` holds bodies; ``root/index.jsonl`` one line per harvest."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def put(
        self,
        source_id: str,
        url: str,
        body: bytes,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> ArchivedBody:
        digest = hashlib.sha256(body).hexdigest()
        target = self.root / "objects" / digest[:2] / digest
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # A unique temporary name: concurrent harvests of identical bytes never collide.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{digest[:8]}-")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        entry = ArchivedBody(
            source_id=source_id,
            url=url,
            sha256=digest,
            size=len(body),
            fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            path=str(target),
            status=status,
            headers=headers,
        )
        with (self.root / "index.jsonl").open("a", encoding="utf-8") as index:
            index.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
        return entry

    def history(self, source_id: str) -> list[ArchivedBody]:
        index = self.root / "index.jsonl"
        if not index.exists():
            return []
        rows = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()]
        return [ArchivedBody(**r) for r in rows if r["source_id"] == source_id]
