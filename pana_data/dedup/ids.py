"""Stable actor ids: a rebuilt cluster inherits the id most of its members last held (a record
missing for a while gets its id back if its name is unchanged); otherwise an opaque id is minted
once and never reused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections import Counter

import duckdb
import pyarrow as pa

from ..schema.codelists import match_key
from .match import RecordKey

ID_PREFIX = "pana-"


def mint(seed: str, taken: set[str]) -> str:
    salt = 0
    while True:
        digest = hashlib.sha256(f"{seed}#{salt}".encode()).digest()
        candidate = ID_PREFIX + base64.b32encode(digest).decode().lower()[:12]
        if candidate not in taken:
            return candidate
        salt += 1


def _previous_ids(
    con: duckdb.DuckDBPyConnection, names: dict[RecordKey, str]
) -> tuple[dict[RecordKey, str], set[str]]:
    """The id each record held, and the ids of the last run.

    A record votes for its id of the last run, or, if it was absent since, for the id it had when
    last seen provided its name is unchanged (a row number reused by another organisation, or a
    recycled record id, must not take over an old actor's id). A retired id (absorbed by a merge)
    is never handed out again: the record votes for the id it redirects to."""
    last_run = {(s, r): a for a, s, r in con.execute("SELECT * FROM actor_members").fetchall()}
    earlier = {
        (s, r): (a, n)
        for s, r, a, n in con.execute(
            "SELECT source_id, record_id, actor_id, name_key FROM record_actors"
        ).fetchall()
    }
    redirects = dict(con.execute("SELECT old_id, new_id FROM actor_redirects").fetchall())
    previous = dict(last_run)
    for key, (actor_id, name_key) in earlier.items():
        if key not in previous and key in names and name_key == match_key(names[key]):
            previous[key] = actor_id
    for key, actor_id in previous.items():
        seen = set()
        while actor_id in redirects and actor_id not in seen:
            seen.add(actor_id)
            actor_id = redirects[actor_id]
        previous[key] = actor_id
    return previous, set(last_run.values())


def _bulk(con: duckdb.DuckDBPyConnection, sql: str, columns: dict[str, list]) -> None:
    """Insert many rows at once through Arrow (executemany costs milliseconds per row)."""
    if not next(iter(columns.values())):
        return
    con.register("bulk_rows", pa.table(columns))
    try:
        con.execute(sql)
    finally:
        con.unregister("bulk_rows")


def assign_ids(
    con: duckdb.DuckDBPyConnection,
    clusters: list[list[RecordKey]],
    names: dict[RecordKey, str],
) -> dict[str, list[RecordKey]]:
    """Return actor id -> members, and record membership and minted ids in the store.

    Ids go to clusters greedily by votes: the part of a split that holds most of an actor's
    records keeps its id; on a tie, an id published in the last run wins."""
    previous, last_ids = _previous_ids(con, names)
    # Ids ever minted, and those given in this run: a new id avoids both.
    taken = {row[0] for row in con.execute("SELECT actor_id FROM actor_ids").fetchall()}
    votes = [Counter(previous[m] for m in members if m in previous) for members in clusters]
    candidates = sorted(
        (-count, actor_id not in last_ids, actor_id, clusters[i][0], i)
        for i, counter in enumerate(votes)
        for actor_id, count in counter.items()
    )
    chosen: dict[int, str] = {}
    used: set[str] = set()
    for _, _, actor_id, _, i in candidates:
        if i not in chosen and actor_id not in used:
            chosen[i] = actor_id
            used.add(actor_id)
    minted: list[str] = []
    result: dict[str, list[RecordKey]] = {}
    taken |= used
    for i, members in sorted(enumerate(clusters), key=lambda item: item[1][0]):
        if i not in chosen:
            chosen[i] = mint("\x1f".join(members[0]), taken)
            minted.append(chosen[i])
            used.add(chosen[i])
            taken.add(chosen[i])
        result[chosen[i]] = members

    # An id none of whose records kept it is retired: it redirects to the actor that took most
    # of its records.
    absorbed: dict[str, tuple[int, str]] = {}
    for i, counter in enumerate(votes):
        for old, count in counter.items():
            if old not in used and count > absorbed.get(old, (0, ""))[0]:
                absorbed[old] = (count, chosen[i])
    redirects = sorted((old, new) for old, (_, new) in absorbed.items())
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    keys = [(a, s, r) for a, members in result.items() for s, r in members]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM actor_members")
        _bulk(
            con,
            "INSERT INTO actor_members SELECT actor_id, source_id, record_id FROM bulk_rows",
            {
                "actor_id": [a for a, _, _ in keys],
                "source_id": [s for _, s, _ in keys],
                "record_id": [r for _, _, r in keys],
            },
        )
        _bulk(
            con,
            "INSERT INTO actor_ids SELECT actor_id, minted_at FROM bulk_rows",
            {"actor_id": minted, "minted_at": [now] * len(minted)},
        )
        for old, new in redirects:  # chains resolve to the newest id
            con.execute("UPDATE actor_redirects SET new_id = ? WHERE new_id = ?", [new, old])
            con.execute(
                "INSERT OR REPLACE INTO actor_redirects VALUES (?, ?, ?)", [old, new, now[:10]]
            )
        _bulk(
            con,
            "INSERT OR REPLACE INTO record_actors "
            "SELECT source_id, record_id, actor_id, name_key, seen_at FROM bulk_rows",
            {
                "source_id": [s for _, s, _ in keys],
                "record_id": [r for _, _, r in keys],
                "actor_id": [a for a, _, _ in keys],
                "name_key": [match_key(names[(s, r)]) for _, s, r in keys],
                "seen_at": [now] * len(keys),
            },
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return result
