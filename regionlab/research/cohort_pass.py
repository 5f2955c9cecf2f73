"""One evaluation of a cohort per feasibility request.

A guarded answer needs three things from the cohort's members: the count per
cell (suppression), the members themselves (the differencing defence compares
them with near-identical earlier queries) and a keyed hash of each cell's
members (the defence's noise). Each used to be its own statement over the
compiled cohort SQL, so the lake was read two to three times per answer. Here
the members are read once into a temporary table of the request's connection,
and the counts and the hashes come from that table in one more statement; the
comparisons read the same table.

The table holds hidden values (``person_key`` and the true counts): it lives on
the request's own connection and is dropped when the request's work is done.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from regionlab.research.cohort_sql import OUTPUT_COLUMNS, CompiledCohort

#: Dimension a researcher may ask for → the column of the compiled cohort.
DIMENSIONS: dict[str, str] = {
    "sex": "sex",
    "age_band": "age_band",
    "municipality": "municipality_code",
}
MISSING_LEVEL = "ukendt"


def person_hash_sql(salt: str, column: str = "person_key") -> str:
    """The keyed per-person hash the defence's noise is built from (XOR over a cell)."""
    return f"md5_number({_quote(salt)} || {column})"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class MemberCache:
    """Member sets of recent cohorts at one snapshot, keyed by their normal form.

    The differencing defence compares each new query with the user's
    near-identical earlier ones, which means evaluating those earlier cohorts
    again. In the service's in-memory copy of a snapshot (integer person
    numbers) each evaluated cohort's members are kept here as a sorted array, so
    a researcher's series costs one evaluation per query instead of two. Bounded
    by the number of person numbers held (``max_members``, least recently used
    go first); it belongs to one copy and dies with it.
    """

    def __init__(self, max_members: int = 20_000_000) -> None:
        self.max_members = max_members
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, members: np.ndarray) -> None:
        if members.size > self.max_members // 4:
            return  # one huge cohort would push out everything else
        with self._lock:
            old = self._items.pop(key, None)
            self._held -= 0 if old is None else old.size
            self._items[key] = members
            self._held += members.size
            while self._held > self.max_members and self._items:
                _, dropped = self._items.popitem(last=False)
                self._held -= dropped.size


def member_array(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    """The ``person_key`` column of ``sql`` as a sorted array of unique integers."""
    column = con.execute(f"SELECT DISTINCT person_key FROM ({sql})").fetchnumpy()["person_key"]
    return np.unique(np.asarray(column))


@dataclass(frozen=True)
class CohortPass:
    """What one read of a cohort gives; ``counts`` holds hidden values, never shown as is."""

    table: str
    """Temporary table of the connection: the members' ``person_key`` (and strata), once each."""
    counts: pl.DataFrame
    """One row per inner cell: the dimension values and ``count`` (true, unsuppressed)."""
    hashes: dict[tuple[str, ...], int] = field(default_factory=dict)
    """Keyed XOR of the members' hashes per inner cell (empty without a salt)."""


def _cells_sql(table: str, dims: Sequence[str], salt: str | None, person_hashes: str | None) -> str:
    select = "".join(
        f"coalesce(CAST(m.{DIMENSIONS[d]} AS VARCHAR), '{MISSING_LEVEL}') AS {d}, " for d in dims
    )
    group = " GROUP BY ALL" if dims else ""
    if not salt:
        return f"SELECT {select}count(*) AS count FROM {table} AS m{group}"
    if person_hashes is None:
        return (
            f"SELECT {select}count(*) AS count, bit_xor({person_hash_sql(salt, 'm.person_key')}) "
            f"AS _h FROM {table} AS m{group}"
        )
    return (
        f"SELECT {select}count(*) AS count, bit_xor(ph._ph) AS _h FROM {table} AS m "
        f"JOIN {person_hashes} AS ph ON ph.person_key = m.person_key{group}"
    )


@contextmanager
def evaluate(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    dims: Sequence[str],
    *,
    salt: str | None = None,
    person_hashes: str | None = None,
    hash_salt: str | None = None,
) -> Iterator[CohortPass]:
    """Read the cohort's members once; yield their counts (and hashes, given ``salt``).

    ``person_hashes`` names a table of ``person_key`` and ``_ph`` (each person's
    keyed hash, made with ``hash_salt``) for connections whose keys are not the
    lake's (the service's in-memory copy); otherwise the hash is computed from
    the key. The members' table is dropped on leaving the block.
    """
    if salt and person_hashes is not None and hash_salt != salt:
        raise RuntimeError("the copy's person hashes were made with another salt")
    table = f"_regionlab_members_{uuid.uuid4().hex}"
    columns = ", ".join(OUTPUT_COLUMNS)
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT DISTINCT {columns} FROM ({compiled.sql})")
    try:
        rows = con.execute(_cells_sql(table, dims, salt, person_hashes)).fetchall()
        # Python ints, not a frame: the hashes are unsigned 128-bit, which a frame would mangle.
        hashes: dict[tuple[str, ...], int] = {}
        if salt:
            hashes = {tuple(str(v) for v in r[: len(dims)]): int(r[-1] or 0) for r in rows}
        counts = pl.DataFrame(
            [r[: len(dims) + 1] for r in rows],
            schema={**dict.fromkeys(dims, pl.Utf8()), "count": pl.Int64()},
            orient="row",
        )
        yield CohortPass(table=table, counts=counts, hashes=hashes)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")


__all__ = [
    "DIMENSIONS",
    "MISSING_LEVEL",
    "CohortPass",
    "MemberCache",
    "evaluate",
    "member_array",
    "person_hash_sql",
]
