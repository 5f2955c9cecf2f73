"""Erasure's search of the airlock: results submitted, released, or waiting in ``outputs/``.

A result should never hold a person's key: the airlock refuses identifier-shaped
columns, pseudonym prefixes and row-level data. But an output checker can
approve a file with a reason, and a project member writes whatever they like
into the workspace's ``outputs/`` folder. So an erasure searches every file of
``research/airlock/<project>/`` (submitted and released files, their
manifests and records) and of ``research/workspaces/<project>/outputs/`` for:

* the persons' lake keys;
* their project pseudonyms in that project (``HMAC(project key, key)``) and the
  16-character prefixes of them the airlock's identifier rule knows;
* their CPR numbers (10 digits, and ``DDMMYY-XXXX``).

Text files are searched in their bytes, as ASCII and as UTF-16 (the airlock
reads any encoding; CPR digits and hex are the same bytes in UTF-8 and the
Windows code pages); Parquet files (by suffix or by their ``PAR1`` magic, since
a member may save one under any name) through DuckDB, row by row as text, since
their pages are compressed; gzip and zip files (``.gz``, ``.xlsx``, ``.docx``,
``.zip``) unpacked first, since deflate hides every byte. A file that cannot be
unpacked or read counts as a match: not searched is not clean. Regionlab does not
edit a result (its hash is in the manifest and the audit store), so a match is
reported — per file, by path under ``var/``, never the value — and fails the
verification until an output checker withdraws the file.
"""

from __future__ import annotations

import gzip
import io
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import duckdb

from regionlab.lake.extensions import duckdb_connect
from regionlab.privacy.keys import PseudonymKey, derive_key
from regionlab.privacy.pseudonym import hmac_hex
from regionlab.settings import Settings
from regionlab.sql import quote_literal

PREFIX = 16
PARQUET = (".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
#: Largest unpacked member searched; a bigger one (or a zip bomb) counts as unsearchable.
MAX_UNPACKED = 256 * 1024 * 1024
#: Archives inside archives unpacked at most this deep.
MAX_DEPTH = 3


def result_files(settings: Settings) -> dict[str, list[Path]]:
    """project id → every file in its airlock folder and its workspace's ``outputs/``."""
    out: dict[str, list[Path]] = {}
    roots = [(settings.research_dir / "airlock", None)]
    roots += [(d / "outputs", d.name) for d in _dirs(settings.workspaces_dir)]
    for root, project in roots:
        if project is None:
            for folder in _dirs(root):
                out.setdefault(folder.name, []).extend(_files(folder))
        elif root.is_dir():
            out.setdefault(project, []).extend(_files(root))
    return {p: sorted(fs) for p, fs in out.items() if fs}


def _dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def needles(
    project_id: str, key: PseudonymKey | None, keys: list[str], cprs: list[str]
) -> list[str]:
    """Every form in which one of the persons could appear in a result of ``project_id``."""
    found = set(keys)
    if key is not None:
        pkey = derive_key(key, f"project:{project_id}")
        for k in keys:
            pseudo = hmac_hex(pkey, k)
            found.update((pseudo, pseudo[:PREFIX]))
    for cpr in cprs:
        found.update((cpr, f"{cpr[:6]}-{cpr[6:]}"))
    return sorted(n for n in found if n)


def _text_matches(data: bytes, forms: Iterable[str]) -> int:
    total = 0
    for encoding in ("ascii", "utf-16-le", "utf-16-be"):
        pattern = re.compile(b"|".join(re.escape(f.encode(encoding)) for f in forms))
        total += len(pattern.findall(data))
    return total


def _parquet_matches(path: Path, forms: list[str]) -> int:
    regex = "|".join(re.escape(f) for f in forms)
    con = duckdb_connect()
    try:
        row = con.execute(
            f"SELECT count(*) FROM read_parquet({quote_literal(str(path))}) t "
            "WHERE regexp_matches(CAST(t AS VARCHAR), ?)",
            [regex],
        ).fetchone()
    except duckdb.Error:
        return -1  # unreadable: reported, never silently skipped
    finally:
        con.close()
    return int(row[0]) if row else 0


def _unpacked(data: bytes) -> list[bytes]:
    """The members of a gzip or zip file, each at most :data:`MAX_UNPACKED` bytes."""
    if data.startswith(GZIP_MAGIC):
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as packed:
            parts = [packed.read(MAX_UNPACKED + 1)]
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = []
            for info in archive.infolist():
                if not info.is_dir():
                    with archive.open(info) as member:
                        parts.append(member.read(MAX_UNPACKED + 1))
    if any(len(p) > MAX_UNPACKED for p in parts):
        raise ValueError("too large to search")
    return parts


def _bytes_matches(data: bytes, forms: list[str], depth: int = 0) -> int:
    """Matches in one file's bytes: Parquet, gzip and zip looked into; -1 when unsearchable."""
    if data.startswith(PARQUET_MAGIC):
        with tempfile.NamedTemporaryFile(suffix=".parquet") as handle:
            handle.write(data)
            handle.flush()
            return _parquet_matches(Path(handle.name), forms)
    if data.startswith((GZIP_MAGIC, ZIP_MAGIC)):
        if depth >= MAX_DEPTH:
            return -1
        try:
            parts = _unpacked(data)
        except (
            OSError,
            EOFError,
            ValueError,
            zlib.error,
            zipfile.BadZipFile,
            RuntimeError,
            NotImplementedError,
        ):
            return -1  # damaged, encrypted or too large: reported, never silently skipped
        counts = [_bytes_matches(part, forms, depth + 1) for part in parts]
        return -1 if any(n < 0 for n in counts) else sum(counts)
    return _text_matches(data, forms)


def _file_matches(path: Path, forms: list[str]) -> int:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(PARQUET_MAGIC))
        if path.suffix.lower() in PARQUET or head == PARQUET_MAGIC:
            return _parquet_matches(path, forms)
        return _bytes_matches(path.read_bytes(), forms)
    except OSError:
        return -1


def scan_results(
    settings: Settings, key: PseudonymKey | None, keys: list[str], cprs: list[str]
) -> tuple[int, dict[str, int]]:
    """(files scanned, path under ``var/`` → matches) over every project's result files.

    A file that cannot be read or unpacked (a Parquet file DuckDB cannot read, a
    damaged or password-protected zip) counts as one match (``-1`` internally): a
    file the scan could not search is not a file it found clean.
    """
    scanned, found = 0, {}
    for project_id, paths in result_files(settings).items():
        forms = needles(project_id, key, keys, cprs)
        if not forms:
            continue
        for path in paths:
            scanned += 1
            n = _file_matches(path, forms)
            if n:
                found[str(path.relative_to(settings.var_dir))] = abs(n)
    return scanned, found


__all__ = ["needles", "result_files", "scan_results"]
