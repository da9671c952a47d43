"""Stable actor ids: a rebuilt cluster inherits the id most of its members last held (a record
missing for a while gets its id back if its name is unchanged); otherwise an opaque id is minted
once and never reused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections import Counter

import duckdb

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
) -> dict[RecordKey, str]:
    """The id each record held: in the last run, or, for a record absent since, in the run it was
    last seen provided its name is unchanged (a row number reused by another organisation, or a
    recycled record id, must not take over an old actor's id)."""
    last_run = {(s, r): a for a, s, r in con.execute("SELECT * FROM actor_members").fetchall()}
    earlier = {
        (s, r): (a, n)
        for s, r, a, n in con.execute(
            "SELECT source_id, record_id, actor_id, name_key FROM record_actors"
        ).fetchall()
    }
    previous = dict(last_run)
    for key, (actor_id, name_key) in earlier.items():
        if key not in previous and key in names and name_key == match_key(names[key]):
            previous[key] = actor_id
    return previous


def assign_ids(
    con: duckdb.DuckDBPyConnection,
    clusters: list[list[RecordKey]],
    names: dict[RecordKey, str],
) -> dict[str, list[RecordKey]]:
    """Return actor id -> members, and record membership and minted ids in the store."""
    previous = _previous_ids(con, names)
    # Ids ever minted, and those given in this run: a new id avoids both.
    taken = {row[0] for row in con.execute("SELECT actor_id FROM actor_ids").fetchall()}
    used: set[str] = set()
    minted: list[str] = []
    result: dict[str, list[RecordKey]] = {}
    absorbed: dict[str, tuple[int, str]] = {}  # old id -> (its votes, the id that absorbed it)
    # Larger clusters choose first, so a split keeps the id with the bigger part.
    for members in sorted(clusters, key=lambda m: (-len(m), m[0])):
        votes = Counter(previous[m] for m in members if m in previous)
        inherited = [
            a for a, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])) if a not in used
        ]
        if inherited:
            actor_id = inherited[0]
            for other, count in votes.items():
                if other != actor_id and count > absorbed.get(other, (0, ""))[0]:
                    absorbed[other] = (count, actor_id)
        else:
            actor_id = mint("\x1f".join(members[0]), taken)
            minted.append(actor_id)
        used.add(actor_id)
        taken.add(actor_id)
        result[actor_id] = members

    # An id whose records all joined other actors is kept as a redirect to the one that took most.
    redirects = [(old, new) for old, (_, new) in sorted(absorbed.items()) if old not in used]
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    memberships = [(a, s, r) for a, members in result.items() for s, r in members]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM actor_members")
        if memberships:
            con.executemany("INSERT INTO actor_members VALUES (?, ?, ?)", memberships)
        if minted:
            con.executemany("INSERT INTO actor_ids VALUES (?, ?)", [(a, now) for a in minted])
        # An id back in use is no longer a redirect; chains resolve to the newest id.
        con.execute("DELETE FROM actor_redirects WHERE list_contains(?, old_id)", [sorted(used)])
        for old, new in redirects:
            con.execute("UPDATE actor_redirects SET new_id = ? WHERE new_id = ?", [new, old])
            con.execute(
                "INSERT OR IGNORE INTO actor_redirects VALUES (?, ?, ?)", [old, new, now[:10]]
            )
        if memberships:
            con.executemany(
                "INSERT OR REPLACE INTO record_actors VALUES (?, ?, ?, ?, ?)",
                [(s, r, a, match_key(names[(s, r)]), now) for a, s, r in memberships],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return result
