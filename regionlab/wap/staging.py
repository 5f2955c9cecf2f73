"""Staging files: raw extracts (CPR numbers included) during a run, private and short-lived.

A staging file lives in ``var/staging/`` (mode 0700) at mode 0600 and only
while its run holds the product's lock (an ``flock`` on ``<domain>.<product>.lock``). The
lock also serialises runs of one product. A run that dies leaves its file
behind with no lock held, so :func:`sweep_stale` — called when any run starts
— removes it; a file whose run is alive is locked and left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from regionlab.errors import UserError
from regionlab.settings import LOCATIONS, Settings

DIR_MODE = 0o700
MEMORY_LIMIT_ENV = "REGIONLAB_DUCKDB_MEMORY_LIMIT"
#: Leaves room under the 4 GB a pipeline stage may use (issue 23) for Python and Arrow.
DEFAULT_MEMORY_LIMIT = "2500MB"
FILE_MODE = 0o600
#: How long an erasure waits for in-flight runs before it gives up (seconds).
QUIESCE_WAIT = 600.0
_POLL = 0.2


def _companions(path: Path) -> list[Path]:
    """The database file and what DuckDB writes beside it."""
    return [path, path.with_name(path.name + ".wal"), path.with_suffix(".duckdb.wal")]


def _private_dir(settings: Settings) -> Path:
    folder = settings.staging_dir
    folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    folder.chmod(DIR_MODE)
    return folder


def _remove(path: Path) -> None:
    for stale in _companions(path):
        stale.unlink(missing_ok=True)
    for spill in path.parent.glob(f"{path.stem}.spill-*"):  # = Settings.spill_dir
        shutil.rmtree(spill, ignore_errors=True)


def run_duckdb_config(
    settings: Settings, domain: str, product_id: str, run_id: str
) -> dict[str, str]:
    """DuckDB settings of a run's connection: a memory cap, spilling into the private folder.

    Without a cap DuckDB takes up to 80 % of RAM; the person-ordered publish sorts the
    region's 18 M lab results in about 6 GB. With the cap the sort spills instead, and
    into the run's own folder under ``var/staging/`` (0700, removed with the staging
    file), never DuckDB's default ``.tmp`` in the working directory.
    ``REGIONLAB_DUCKDB_MEMORY_LIMIT`` changes the cap (a DuckDB size, e.g. ``8GB``).
    """
    return {
        "memory_limit": os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT,
        "temp_directory": str(settings.spill_dir(domain, product_id, run_id)),
    }


def protect(path: Path) -> None:
    """Make the staging file and its WAL (when there is one) readable by the owner only."""
    for part in _companions(path):
        with contextlib.suppress(FileNotFoundError):
            part.chmod(FILE_MODE)


def _lock_path(path: Path) -> Path:
    """``<domain>.<product>.lock``: holds no data, and is not a staging file to erase."""
    return path.with_suffix(".lock")


def _keep_marker(path: Path) -> Path:
    return path.with_suffix(".keep")


def private_folders(settings: Settings) -> None:
    """Every top folder of ``var/`` that can hold person data is the owner's alone (0700).

    Files inside keep the modes their writers give them (DuckDB, Dagster, Parquet
    writers use the umask); the folder is what keeps other accounts out.
    """
    for location in LOCATIONS:
        folder = settings.var_dir / location.folder
        if location.person_data and folder.is_dir():
            folder.chmod(DIR_MODE)


def sweep_stale(settings: Settings) -> list[Path]:
    """Remove staging files whose run is no longer alive (their lock is free); return them."""
    folder = settings.staging_dir
    if not folder.is_dir():
        return []
    _private_dir(settings)
    removed = []
    # a dead run's spill folder is swept with its staging file, or alone if that is gone
    spills = {p.with_suffix(".duckdb") for p in folder.glob("*.spill-*")}
    for path in sorted({*folder.glob("*.duckdb"), *spills}):
        if _keep_marker(path).exists():
            continue  # kept on purpose for a reader that removes it (the benchmark)
        fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live run holds it
        try:
            _remove(path)
            removed.append(path)
        finally:
            os.close(fd)  # closing releases the lock
    return removed


@contextlib.contextmanager
def staging_file(
    settings: Settings, domain: str, product_id: str, *, keep: bool = False
) -> Iterator[Path]:
    """Hold the product's staging lock and yield its (fresh) staging path; remove it after.

    ``keep`` leaves the file for a caller that reads it afterwards and removes it
    itself (the benchmark); the next run's sweep removes it otherwise.
    """
    _private_dir(settings)
    path = settings.staging_file(domain, product_id)
    fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for another run of the same product
        _remove(path)
        _keep_marker(path).unlink(missing_ok=True)
        try:
            yield path
        finally:
            if keep:
                _keep_marker(path).touch(mode=FILE_MODE)
            else:
                _remove(path)
    finally:
        os.close(fd)


def _product_of(lock: Path) -> str:
    return lock.stem.replace(".", "/", 1)


@contextlib.contextmanager
def quiesced(
    settings: Settings, products: Iterable[tuple[str, str]], *, wait: float = QUIESCE_WAIT
) -> Iterator[None]:
    """Hold the lock of every product (and of every staging file left) for the block.

    An erasure runs inside it: it waits for each in-flight run to finish (its
    staging file is then gone, its rows published and about to be erased), and
    a run that starts meanwhile waits for the erasure, so it stages after the
    suppression list is updated and leaves the erased persons out. Waits at
    most ``wait`` seconds in all, then names the runs still holding a lock.
    """
    folder = _private_dir(settings)
    locks = {_lock_path(settings.staging_file(d, p)) for d, p in products}
    locks |= {_lock_path(f) for f in folder.glob("*.duckdb")}
    deadline = time.monotonic() + wait
    held: list[int] = []
    try:
        waiting = sorted(locks)
        while waiting:
            busy = []
            for lock in waiting:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    busy.append(lock)
                    continue
                held.append(fd)
            waiting = busy
            if waiting and time.monotonic() >= deadline:
                names = ", ".join(_product_of(lock) for lock in waiting)
                raise UserError(
                    f"runs of {names} are still in flight after {wait:g} s (they hold "
                    f"{', '.join(str(lock) for lock in waiting)}); let them finish or stop "
                    "them, then repeat the erasure — nothing was erased"
                )
            if waiting:
                time.sleep(_POLL)
        yield
    finally:
        for fd in held:
            os.close(fd)  # closing releases the lock


def remove_all(settings: Settings) -> int:
    """Remove every staging file (call inside :func:`quiesced`); returns how many there were."""
    files = settings.staging_files()
    for path in files:
        if path.is_dir():  # a dead run's spill folder (DuckDB temp files: raw rows)
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(files)
