"""One lake connection per service process, shared by requests through cursors.

Opening the lake costs a new DuckDB instance and loading the DuckLake and
catalogue extensions, which verifies their signatures: about 0.4 s, most of a
feasibility answer. The service opens it once and gives each request its own
cursor (DuckDB's way of sharing one instance between threads). An attach that
is not pinned reads the newest snapshot at each query, so publishes by the
pipelines are seen at once; a request pinned to an older snapshot gets its own
connection, as before. If the shared connection fails (the lake was replaced
underneath it), it is reopened once.
"""

from __future__ import annotations

import threading

import duckdb

from regionlab import lake


class LakePool:
    """A lazily opened, read-only lake connection; :meth:`connect` hands out cursors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base: duckdb.DuckDBPyConnection | None = None

    def _shared(self, fresh: bool = False) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if fresh and self._base is not None:
                self._base.close()
                self._base = None
            if self._base is None:
                self._base = lake.connect(read_only=True)
            return self._base

    def connect(self, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
        """A cursor on the shared connection (newest snapshot), or a pinned connection."""
        if snapshot is not None:
            return lake.connect(read_only=True, snapshot=snapshot)
        try:
            cursor = self._shared().cursor()
            lake.current_snapshot(cursor)  # the shared attach still answers
            return cursor
        except duckdb.Error:
            return self._shared(fresh=True).cursor()

    def close(self) -> None:
        with self._lock:
            if self._base is not None:
                self._base.close()
                self._base = None


__all__ = ["LakePool"]
