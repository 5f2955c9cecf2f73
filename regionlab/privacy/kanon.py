"""k-anonymity over declared quasi-identifiers, measured in DuckDB.

A product is k-anonymous when every combination of its quasi-identifier
values (an equivalence class) is shared by at least k rows. The audit compares
the measured k with the spec's minimum. Only the *distribution of class
sizes* comes back — counts, never the values of a small class — so the
result can be logged and shown in the catalogue.

NULL is treated as a value of its own (SQL GROUP BY semantics): a missing
postcode still narrows a person down together with the other columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from regionlab.sql import quote_ident, quote_table


@dataclass(frozen=True)
class KAnonymityResult:
    """Class-size distribution of a table over its quasi-identifiers.

    ``k`` is the smallest class size (0 for an empty table); ``size_counts``
    holds ``(class size, number of classes of that size)`` pairs, ascending.
    """

    quasi_identifiers: tuple[str, ...]
    k: int
    classes: int
    rows: int
    size_counts: tuple[tuple[int, int], ...]

    def classes_below(self, k: int) -> int:
        """Number of equivalence classes with fewer than ``k`` rows."""
        return sum(n for size, n in self.size_counts if size < k)

    def rows_below(self, k: int) -> int:
        """Number of rows in classes with fewer than ``k`` rows (what suppression would drop)."""
        return sum(size * n for size, n in self.size_counts if size < k)

    def satisfies(self, k: int) -> bool:
        """True when every class has at least ``k`` rows (an empty table satisfies any k)."""
        return self.classes_below(k) == 0


def k_anonymity(
    con: duckdb.DuckDBPyConnection, table: str, quasi_identifiers: Sequence[str]
) -> KAnonymityResult:
    """Measure k-anonymity of ``table`` over ``quasi_identifiers`` in one SQL pass.

    With no quasi-identifiers the whole table is one class.
    """
    qis = tuple(quasi_identifiers)
    present = {row[0] for row in con.execute(f"DESCRIBE {quote_table(table)}").fetchall()}
    missing = [q for q in qis if q not in present]
    if missing:
        raise ValueError(
            f"quasi-identifier column(s) {', '.join(map(repr, missing))} not in table {table}"
        )
    group_by = f"GROUP BY {', '.join(quote_ident(q) for q in qis)}" if qis else ""
    rows = con.execute(
        f"""
        SELECT size, count(*) AS n
        FROM (SELECT count(*) AS size FROM {quote_table(table)} {group_by})
        WHERE size > 0
        GROUP BY size ORDER BY size
        """
    ).fetchall()
    size_counts = tuple((int(size), int(n)) for size, n in rows)
    return KAnonymityResult(
        quasi_identifiers=qis,
        k=size_counts[0][0] if size_counts else 0,
        classes=sum(n for _, n in size_counts),
        rows=sum(size * n for size, n in size_counts),
        size_counts=size_counts,
    )
