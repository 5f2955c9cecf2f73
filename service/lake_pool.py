"""Warm lake reads for the service: one shared lake connection and a copy per snapshot.

Opening the lake costs a new DuckDB instance and loading the DuckLake and
catalogue extensions, which verifies their signatures: about 0.4 s, most of a
small feasibility answer. The service opens it once and gives each request its
own cursor (DuckDB's way of sharing one instance between threads). An attach
that is not pinned reads the newest snapshot; a request's cursor opens a
transaction first, so all its statements read the one snapshot it started on.
A request pinned to an older snapshot gets its own pinned connection.

On top of that, with ``copy`` on (the service's ``copy_lake`` setting), the
pool keeps the newest snapshot's cohort columns in memory
(:mod:`service.snapshot_copy`) and answers from that copy whenever the request
reads the snapshot it holds. When the lake's current snapshot moves on, the
request that notices it is answered from the lake as before and a background
thread builds the new copy; the old copy is freed when its last reader is done.
If the shared connection fails (the lake was replaced underneath it), it is
reopened once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import duckdb

from regionlab import lake
from regionlab.errors import UserError
from regionlab.research.feasibility import LakeRead
from service.snapshot_copy import SnapshotCopy, build_copy

log = logging.getLogger(__name__)


class LakePool:
    """A lazily opened, read-only lake connection and an in-memory copy of its newest snapshot.

    ``salt`` gives the salt of the defence's person hashes (``None``: the
    defence does not perturb); the copy stores each person's hash with it.
    """

    def __init__(self, *, copy: bool = False, salt: Callable[[], str | None] | None = None) -> None:
        self._lock = threading.Lock()
        self._base: duckdb.DuckDBPyConnection | None = None
        self._copy_enabled = copy
        self._salt = salt or (lambda: None)
        self._copy: SnapshotCopy | None = None
        self._building: int | None = None
        self._failed: set[int] = set()

    def _shared(self, fresh: bool = False) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if fresh and self._base is not None:
                self._base.close()
                self._base = None
            if self._base is None:
                self._base = lake.connect(read_only=True)
            return self._base

    def lake_read(self) -> LakeRead:
        """A cursor of the shared connection inside a transaction: one snapshot throughout."""
        for fresh in (False, True):
            cursor = self._shared(fresh).cursor()
            try:
                cursor.execute("BEGIN TRANSACTION")
                return LakeRead(cursor, lake.current_snapshot(cursor))
            except duckdb.Error:
                cursor.close()
                if fresh:
                    raise
        raise AssertionError("unreachable")

    def connect(self, snapshot: int | None = None) -> LakeRead:
        """A read of ``snapshot`` (default: the newest), from the copy when it holds it."""
        if snapshot is not None:
            copied = self._lease(snapshot)
            if copied is not None:
                return copied
            con = lake.connect(read_only=True, snapshot=snapshot)
            return LakeRead(con, lake.current_snapshot(con))
        read = self.lake_read()
        copied = self._lease(read.snapshot_id)
        if copied is not None:
            read.close()
            return copied
        self._refresh(read.snapshot_id)
        return read

    def _lease(self, snapshot_id: int) -> LakeRead | None:
        with self._lock:
            copy = self._copy
        if copy is None or copy.snapshot_id != snapshot_id:
            return None
        return copy.lease()

    def _refresh(self, snapshot_id: int) -> None:
        """Build the copy of ``snapshot_id`` in the background (once; one build at a time)."""
        if not self._copy_enabled:
            return
        with self._lock:
            if self._building is not None or snapshot_id in self._failed:
                return
            if self._copy is not None and self._copy.snapshot_id >= snapshot_id:
                return
            self._building = snapshot_id
        threading.Thread(
            target=self._build, args=(snapshot_id,), name="lake-copy", daemon=True
        ).start()

    def _build(self, snapshot_id: int) -> None:
        try:
            copy = build_copy(snapshot_id, self._salt())
        except Exception:  # the lake path still answers; say so once, retry never
            log.exception("in-memory copy of lake snapshot %s failed", snapshot_id)
            with self._lock:
                self._failed.add(snapshot_id)
                self._building = None
            return
        with self._lock:
            old, self._copy, self._building = self._copy, copy, None
        log.info("lake snapshot %s copied into memory in %.1f s", snapshot_id, copy.seconds)
        if old is not None:
            old.retire()

    def warm(self) -> None:
        """Start building the copy of the newest snapshot (at start-up; does not wait)."""
        if not self._copy_enabled:
            return
        try:
            read = self.lake_read()
        except (duckdb.Error, UserError):
            return  # no lake yet: the first request after a publish builds it
        read.close()
        self._refresh(read.snapshot_id)

    def copied_snapshot(self) -> int | None:
        """The snapshot the in-memory copy holds (``None``: none yet)."""
        with self._lock:
            return None if self._copy is None else self._copy.snapshot_id

    def close(self) -> None:
        with self._lock:
            if self._base is not None:
                self._base.close()
                self._base = None
            copy, self._copy = self._copy, None
        if copy is not None:
            copy.retire()


__all__ = ["LakePool"]
