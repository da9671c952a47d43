"""The RNA (Répertoire National des Associations) dumps into one DuckDB table, all in DuckDB SQL.

A pure loader: no Prefect, no per-row Python. The distribution is one CSV (the national
aggregate) or a zip of per-département CSVs; ``rna_files`` turns either into a list of CSVs and
``read_rna`` loads them into a table with the columns of ``RNA_COLUMNS``.

Traps handled (see notes/sources.md):

- three headers: the current 39-column waldec header, the 2018 waldec header (plus
  ``telephone``/``email``) and the "import" header (``adr1``..``adr3``, ``libcom``, no
  ``date_disso``). Files are grouped by exact header and encoding, one ``read_csv`` per group;
- ISO-8859-1 and UTF-8 files both exist: ``detect_encoding`` samples the start and further in; a
  file taken for UTF-8 that turns out not to be is read again as Latin-1. Latin-1 files written
  from Windows-1252 (``œ``, ``’``, ``€`` as C1 bytes) get those characters back;
- ``0001-01-01`` means no date; ``position`` A active, D dissoute, S supprimée, R reprise;
- ``adrg_*`` (the declarant's own address), ``dir_civilite``, ``telephone`` and ``email`` are about
  a person: they are never projected, so they never reach the output table. The reject tables
  DuckDB fills for malformed rows hold whole raw lines: they are counted, then dropped.
"""

from __future__ import annotations

import codecs
import csv
import re
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import duckdb

from ..archive import ArchivedBody
from ..catalog import SourceSpec
from ..schema.identifiers import PLACEHOLDER_RNA, RNA_RE
from .base import Loaded, Register, register_register

# Output column -> DuckDB type, in table order.
RNA_COLUMNS: dict[str, str] = {
    "entry_id": "VARCHAR",
    "rna": "VARCHAR",
    "siret": "VARCHAR",
    "nom_legal": "VARCHAR",
    "sigle": "VARCHAR",
    "adresse": "VARCHAR",
    "complement_adresse": "VARCHAR",
    "code_postal": "VARCHAR",
    "commune": "VARCHAR",
    "code_insee": "VARCHAR",
    "site_web": "VARCHAR",
    "date_creation": "DATE",
    "date_dissolution": "DATE",
    "date_maj": "DATE",
    "position": "VARCHAR",
    "nature": "VARCHAR",
    "groupement": "VARCHAR",
    "objet_social1": "VARCHAR",
    "objet_social2": "VARCHAR",
    "ferme": "BOOLEAN",
}

# Columns about a person: never read into the output. The projection names only the columns it
# needs, so these are excluded by construction; `_group_select` refuses to name them.
# The current 39-column header of the waldec export.
WALDEC_HEADER = (
    "id;id_ex;siret;rup_mi;gestion;date_creat;date_decla;date_publi;date_disso;nature;groupement;"
    "titre;titre_court;objet;objet_social1;objet_social2;adrs_complement;adrs_numvoie;"
    "adrs_repetition;adrs_typevoie;adrs_libvoie;adrs_distrib;adrs_codeinsee;adrs_codepostal;"
    "adrs_libcommune;adrg_declarant;adrg_complemid;adrg_complemgeo;adrg_libvoie;adrg_distrib;"
    "adrg_codepostal;adrg_achemine;adrg_pays;dir_civilite;siteweb;publiweb;observation;position;"
    "maj_time"
).split(";")
PERSONAL_PREFIXES = ("adrg_",)
PERSONAL_COLUMNS = frozenset({"dir_civilite", "telephone", "email"})

NO_DATE = "0001-01-01"
NO_OBJET = "000000"
SAMPLE_BYTES = 1 << 20  # 1 MiB per sample
SAMPLE_OFFSETS = (4 << 20, 16 << 20)  # plus the middle and the end of big files
UTF8_BOM = codecs.BOM_UTF8
# Windows-1252 as DuckDB cannot read it: its Latin-1 decoder refuses the bytes 0x80..0x9F that
# Windows-1252 uses for œ, ’, €, …; such files are transcoded to UTF-8 first (the five bytes
# Windows-1252 leaves undefined keep their Latin-1 meaning).
CP1252_TABLE = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))
C1_BYTES = re.compile(rb"[\x80-\x9f]")
TRANSCODE_CHUNK = 8 << 20


@dataclass(frozen=True)
class RnaLoad:
    """What ``read_rna`` did: rows written, malformed rows rejected (counted, never kept), the
    rejects by DuckDB error type, and the encoding each file was read with."""

    rows: int
    rejected: int
    errors: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)


def _is_utf8(chunk: bytes, *, start: bool, end: bool) -> bool:
    if not start:  # a sample may begin inside a multi-byte character
        skip = 0
        while skip < 3 and skip < len(chunk) and 0x80 <= chunk[skip] <= 0xBF:
            skip += 1
        chunk = chunk[skip:]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(chunk, final=end)
    except UnicodeDecodeError:
        return False
    return True


def _samples(path: Path):
    """(chunk, is the file's start, reaches the file's end): the first MiB, then 1 MiB at 4 and
    16 MiB, in the middle and at the end."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
        yield head, True, len(head) >= size
        offsets = (*SAMPLE_OFFSETS, size // 2, size - SAMPLE_BYTES)
        for offset in sorted({o for o in offsets if o >= SAMPLE_BYTES}):
            f.seek(offset)
            chunk = f.read(SAMPLE_BYTES)
            yield chunk, False, offset + len(chunk) >= size


def _sniff(path: Path) -> str:
    """``detect_encoding``, telling Windows-1252 (bytes 0x80..0x9F in a non-UTF-8 sample) apart."""
    encoding = "utf-8"
    for chunk, start, end in _samples(path):
        if start and chunk.startswith(UTF8_BOM):
            return "utf-8"
        if encoding == "utf-8" and not _is_utf8(chunk, start=start, end=end):
            encoding = "latin-1"
        if encoding == "latin-1" and C1_BYTES.search(chunk):
            return "windows-1252"
    return encoding


def detect_encoding(path: str | Path) -> str:
    """``"utf-8"`` or ``"latin-1"``: a UTF-8 BOM, or samples (the first MiB, then 1 MiB at 4 and
    16 MiB, the middle and the end) that are all valid UTF-8, mean UTF-8; any invalid sample means
    Latin-1 (ISO-8859-1, of which Windows-1252 is a superset for printable text). ASCII-only
    samples say UTF-8: ``read_rna`` reads a file again as Latin-1 if DuckDB then finds invalid
    UTF-8 further in."""
    encoding = _sniff(Path(path))
    return "latin-1" if encoding == "windows-1252" else encoding


def rna_files(path: Path, workdir: Path) -> list[Path]:
    """The CSVs of an RNA distribution: a CSV as it is; a directory's ``*.csv``; a zip's ``*.csv``
    members, streamed to ``workdir`` (flattened to their base names, never outside it)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    if not zipfile.is_zipfile(path):
        return [path]
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            member = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or member.suffix.lower() != ".csv":
                continue
            if "__MACOSX" in member.parts or member.name.startswith("._"):
                continue
            target = workdir / member.name
            if target in out:
                target = workdir / f"{len(out)}_{member.name}"
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            out.append(target)
    return sorted(out)


def _header(path: Path, encoding: str) -> tuple[str, ...]:
    with path.open("rb") as f:
        line = f.readline(1 << 16)
    text = line.removeprefix(UTF8_BOM).decode(encoding, errors="replace").rstrip("\r\n")
    names = next(csv.reader([text], delimiter=";", quotechar='"'), [])
    return tuple(name.strip() for name in names)


def _family(header: tuple[str, ...], path: Path) -> str:
    names = {n.lower() for n in header}
    if "id" not in names or "titre" not in names:
        raise ValueError(f"{path}: not an RNA file (no id/titre column in its header)")
    if "adr1" in names or "libcom" in names:
        return "import"
    return "waldec"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ident(table: str) -> str:
    return ".".join(_quote(part) for part in table.split("."))


def _group_select(
    files: list[Path], header: tuple[str, ...], encoding: str, rejects: str, scans: str
) -> str:
    """One ``read_csv`` over files sharing a header and an encoding, projected onto the canonical
    raw columns (only the public columns are named, so DuckDB never materialises the others)."""
    present = {n.lower(): n for n in header}

    def raw(name: str) -> str:
        if name.startswith(PERSONAL_PREFIXES) or name in PERSONAL_COLUMNS:
            raise AssertionError(f"{name} is personal data: never projected")
        if name not in present:
            return "NULL::VARCHAR"
        return f"nullif(trim({_quote(present[name])}), '')"

    def part(name: str) -> str:
        return f"nullif({raw(name)}, '_')"

    if "adr1" in present:
        street = f"concat_ws(' ', {part('adr1')}, {part('adr2')}, {part('adr3')})"
        commune = raw("libcom") if "libcom" in present else raw("adrs_libcommune")
    else:
        parts = ("adrs_numvoie", "adrs_repetition", "adrs_typevoie", "adrs_libvoie")
        street = f"concat_ws(' ', {', '.join(part(p) for p in parts)})"
        commune = raw("adrs_libcommune")
    columns = "{" + ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in header) + "}"
    file_list = "[" + ", ".join(_sql_str(str(p)) for p in files) + "]"
    return f"""
        SELECT
            {raw("id")} AS id,
            {raw("siret")} AS siret,
            {raw("titre")} AS titre,
            {raw("titre_court")} AS titre_court,
            {street} AS street,
            {raw("adrs_complement")} AS complement,
            {raw("adrs_codepostal")} AS code_postal,
            {commune} AS commune,
            {raw("adrs_codeinsee")} AS code_insee,
            {raw("siteweb")} AS siteweb,
            {raw("date_creat")} AS date_creat,
            {raw("date_disso")} AS date_disso,
            {raw("maj_time")} AS maj_time,
            {raw("position")} AS position,
            {raw("nature")} AS nature,
            {raw("groupement")} AS groupement,
            {raw("objet_social1")} AS objet_social1,
            {raw("objet_social2")} AS objet_social2
        FROM read_csv(
            {file_list}, columns = {columns}, delim = ';', header = true, quote = '"',
            escape = '"', encoding = {_sql_str(encoding)}, store_rejects = true,
            rejects_table = {_sql_str(rejects)}, rejects_scan = {_sql_str(scans)}
        )"""


def _date(expr: str) -> str:
    return f"CASE WHEN starts_with({expr}, '{NO_DATE}') THEN NULL ELSE TRY_CAST({expr} AS DATE) END"


def _objet(expr: str) -> str:
    return f"nullif({expr}, '{NO_OBJET}')"


def _select(groups: list[str]) -> str:
    union = "\nUNION ALL\n".join(groups)
    return f"""
        SELECT
            id AS entry_id,
            CASE WHEN regexp_full_match(id, {_sql_str(RNA_RE.pattern)})
                 AND id <> {_sql_str(PLACEHOLDER_RNA)} THEN id END AS rna,
            CASE WHEN length(siret_digits) = 14 AND siret_digits <> '00000000000000'
                 THEN siret_digits END AS siret,
            titre AS nom_legal,
            titre_court AS sigle,
            nullif(trim(regexp_replace(street, '\\s+', ' ', 'g')), '') AS adresse,
            complement AS complement_adresse,
            code_postal,
            commune,
            code_insee,
            siteweb AS site_web,
            {_date("date_creat")} AS date_creation,
            {_date("date_disso")} AS date_dissolution,
            {_date("maj_time")} AS date_maj,
            upper(position) AS position,
            nature,
            groupement,
            {_objet("objet_social1")} AS objet_social1,
            {_objet("objet_social2")} AS objet_social2,
            coalesce(upper(position) IN ('D', 'S'), false)
                OR {_date("date_disso")} IS NOT NULL AS ferme
        FROM (
            SELECT *, CASE WHEN siret IS NOT NULL THEN regexp_replace(siret, '[^0-9]', '', 'g')
                      END AS siret_digits
            FROM ({union})
        )"""


def _has_c1(path: Path) -> bool:
    with path.open("rb") as f:
        while chunk := f.read(TRANSCODE_CHUNK):
            if C1_BYTES.search(chunk):
                return True
    return False


def _transcode_cp1252(path: Path, workdir: Path) -> Path:
    """A Windows-1252 file as UTF-8, in chunks (single-byte: chunks never split a character)."""
    target = workdir / f"{uuid.uuid4().hex[:8]}_{path.name}"
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(TRANSCODE_CHUNK):
            dst.write(codecs.charmap_decode(chunk, "strict", CP1252_TABLE)[0])
    return target


def _load(
    con: duckdb.DuckDBPyConnection, sources: dict[Path, tuple[Path, str]], table: str
) -> tuple[int, int, Counter, set[Path]]:
    """One load attempt over ``{given path: (path read, encoding)}``: (rows, rejected rows,
    rejects by error type, given paths that turned out not to be UTF-8; their INVALID ENCODING
    rejects are not counted: the caller reads them again)."""
    groups: dict[tuple[str, tuple[str, ...]], list[Path]] = {}
    for given, (path, encoding) in sources.items():
        header = _header(path, encoding)
        _family(header, given)
        groups.setdefault((encoding, header), []).append(path)
    token = uuid.uuid4().hex[:12]
    names = [(f"rna_rejects_{token}_{i}", f"rna_scans_{token}_{i}") for i in range(len(groups))]
    selects = [
        _group_select(files, header, encoding, rejects, scans)
        for ((encoding, header), files), (rejects, scans) in zip(groups.items(), names, strict=True)
    ]
    columns = ", ".join(f"{_quote(name)} {kind}" for name, kind in RNA_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TABLE {_ident(table)} ({columns})")
    errors: Counter = Counter()
    rejected = 0
    not_utf8: set[Path] = set()
    if not selects:
        return 0, 0, errors, not_utf8
    read = {path.resolve(): given for given, (path, _) in sources.items()}
    try:
        rows = con.execute(f"INSERT INTO {_ident(table)} {_select(selects)}").fetchone()[0]
        for rejects, scans in names:
            for kind, count in con.execute(
                f"SELECT error_type::VARCHAR, count(DISTINCT (scan_id, file_id, line)) "
                f"FROM {rejects} GROUP BY ALL"
            ).fetchall():
                errors[kind] += count
            rejected += con.execute(
                f"SELECT count(DISTINCT (scan_id, file_id, line)) FROM {rejects} "
                f"WHERE error_type <> 'INVALID ENCODING'"
            ).fetchone()[0]
            for (file_path,) in con.execute(
                f"SELECT DISTINCT s.file_path FROM {rejects} r JOIN {scans} s "
                f"USING (scan_id, file_id) WHERE r.error_type = 'INVALID ENCODING'"
            ).fetchall():
                not_utf8.add(read[Path(file_path).resolve()])
    finally:  # the reject tables hold whole raw lines, declarant columns included
        for rejects, scans in names:
            con.execute(f"DROP TABLE IF EXISTS {rejects}")
            con.execute(f"DROP TABLE IF EXISTS {scans}")
    errors.pop("INVALID ENCODING", None)
    return rows, rejected, errors, not_utf8


def read_rna(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    table: str,
    *,
    workdir: Path | None = None,
) -> RnaLoad:
    """Create or replace ``table`` (columns ``RNA_COLUMNS``) from RNA CSVs of any of the three
    headers, one row per well-formed RNA row. Rows DuckDB cannot parse (wrong number of fields, bad
    quoting) are rejected and counted in ``RnaLoad.rejected``; they never vanish uncounted.
    Memory is DuckDB's: set ``memory_limit``/``temp_directory`` on ``con`` beforehand. Files
    that must be transcoded (Windows-1252) are written under ``workdir`` (default: the system's
    temporary directory) and deleted before returning."""
    paths = [Path(p) for p in paths]
    labels = {p: _sniff(p) for p in paths}
    sources = {p: (p, enc) for p, enc in labels.items()}
    with tempfile.TemporaryDirectory(prefix="rna-", dir=workdir) as tmp:
        for p, enc in labels.items():
            if enc == "windows-1252":  # seen in the samples: transcode now rather than fail later
                sources[p] = (_transcode_cp1252(p, Path(tmp)), "utf-8")
        for _attempt in range(4):  # utf-8 -> latin-1 -> windows-1252, at most
            try:
                rows, rejected, errors, not_utf8 = _load(con, sources, table)
            except duckdb.InvalidInputException as error:
                if "not latin-1 encoded" not in str(error):
                    raise
                cp1252 = [
                    p for p, (read, enc) in sources.items() if enc == "latin-1" and _has_c1(read)
                ]
                if not cp1252:
                    raise
                for p in cp1252:
                    sources[p] = (_transcode_cp1252(p, Path(tmp)), "utf-8")
                    labels[p] = "windows-1252"
                continue
            if not not_utf8:
                break
            for p in not_utf8:  # UTF-8 by the samples, not further in: read again as Latin-1
                sources[p] = (p, "latin-1")
                labels[p] = "latin-1"
        else:  # pragma: no cover - each retry settles at least one file for good
            raise RuntimeError("RNA load did not settle on the files' encodings")
    return RnaLoad(
        rows=rows,
        rejected=rejected,
        errors=dict(errors),
        encodings={str(p): labels[p] for p in paths},
    )


# The kind ``rna``: the register, loaded through DuckDB (never Python rows).


def load(
    spec: SourceSpec, body: ArchivedBody, con: duckdb.DuckDBPyConnection, table: str
) -> Loaded:
    with tempfile.TemporaryDirectory(prefix=f"rna-{spec.id}-") as tmp:
        files = rna_files(Path(body.path), Path(tmp) / "files")
        if not files:
            raise ValueError(f"source {spec.id}: no CSV in the archived file {body.sha256[:12]}")
        try:
            result = read_rna(con, files, table, workdir=Path(tmp))
        except ValueError as exc:
            raise ValueError(f"source {spec.id}: {exc}") from exc
    return Loaded(result.rows, result.rejected)


TO_RECORD = {
    "nom": "nom_legal",
    "rna": "rna",
    "siret": "siret",
    "adresse": "adresse",
    "complement_adresse": "complement_adresse",
    "code_postal": "code_postal",
    "commune": "commune",
    "code_insee": "code_insee",
    "site_web": "site_web",
    "statut": "CASE WHEN ferme THEN 'ferme' ELSE 'actif' END",
    "date_maj": "date_maj",
}

register_register(
    "rna",
    Register(load=load, to_record=TO_RECORD),
    doc="The RNA waldec export (a register: one CSV or a zip of per-département CSVs, `;`, "
    "ISO-8859-1 or UTF-8; dissolved associations flagged; the declarant's address never read).",
    expect="csv",
)
