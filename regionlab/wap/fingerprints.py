"""SHA-256 of delivery files, remembered by each file's identity.

Every run compares every loaded delivery with the digest in the load log (a
re-delivery with changed content is noticed). Hashing all of them again costs
what reading the sources costs — 7.5 s for the region's 3.3 GB here — on every
run, also on one with nothing new. So a digest is remembered beside the file's
size, modification and change times (ns), inode and device, and taken again only
when any of them differs: a write to the file changes its mtime and ctime, and
ctime cannot be set back. As in git's index, a digest taken less than
:data:`RACY_SECONDS` after the file's last change is not remembered (a second
write within the clock's resolution would keep the times). The cache holds file
names and digests, never content; deleting it only costs the next run a re-read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from pathlib import Path

#: A digest is remembered only when the file last changed longer ago than this.
RACY_SECONDS = 2.0

_lock = threading.Lock()
_loaded: dict[Path, dict[str, list]] = {}


def sha256_file(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _identity(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def _entries(cache_file: Path) -> dict[str, list]:
    if cache_file not in _loaded:
        try:
            data = json.loads(cache_file.read_text(encoding="utf-8"))
            _loaded[cache_file] = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            _loaded[cache_file] = {}
    return _loaded[cache_file]


def _save(cache_file: Path, entries: dict[str, list]) -> None:
    with contextlib.suppress(OSError):  # a cache: failing to write it only costs time
        # The owner's alone, like sources/: delivery names, sizes and digests are no
        # values, but they are nobody else's business either.
        cache_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(entries, sort_keys=True))
        tmp.replace(cache_file)


def fingerprint(path: Path, cache_file: Path | None) -> str:
    """SHA-256 of ``path``: remembered in ``cache_file`` while the file is unchanged."""
    if cache_file is None:
        return sha256_file(path)
    key = str(path.resolve())
    stat = path.stat()
    with _lock:
        entry = _entries(cache_file).get(key)
    if entry and entry[:-1] == _identity(stat):
        return str(entry[-1])
    sha = sha256_file(path)
    after = path.stat()
    settled = time.time_ns() - max(after.st_mtime_ns, after.st_ctime_ns) > RACY_SECONDS * 1e9
    if _identity(after) == _identity(stat) and settled:
        with _lock:
            entries = _entries(cache_file)
            entries[key] = [*_identity(stat), sha]
            _save(cache_file, entries)
    return sha
