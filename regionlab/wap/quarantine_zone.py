"""The quarantine zone: a restricted store outside the published lake.

Quarantined rows may hold raw source values (that is why they could not be
published), so they live in one DuckDB file per product under
``var/quarantine/`` with its own retention, and are never catalogued with
values: only counts by reason leave this zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from regionlab.lake import duckdb_connect
from regionlab.settings import Settings
from regionlab.sql import quote_literal

DDL = """CREATE TABLE IF NOT EXISTS quarantine (
    extract VARCHAR, line BIGINT, record_id VARCHAR, reason VARCHAR, detail VARCHAR, raw VARCHAR,
    run_id VARCHAR, quarantined_at TIMESTAMP WITH TIME ZONE)"""


def zone_file(settings: Settings, product_ref: str) -> Path:
    return settings.quarantine_file(product_ref)


def store(
    settings: Settings,
    product_ref: str,
    staging_file: Path,
    sources: Path,
    run_id: str,
    replacing: Sequence[str] = (),
) -> None:
    """Copy this run's quarantine rows, replacing earlier rows of the same extracts.

    ``replacing`` names deliveries (as in the load log) whose earlier rows go even when
    this run quarantined none of theirs: a reloaded delivery's old version leaves nothing.
    """
    target = zone_file(settings, product_ref)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    con = duckdb_connect(str(target))
    try:
        con.execute(DDL)
        con.execute(f"ATTACH {quote_literal(str(staging_file))} AS stg (READ_ONLY)")
        prefix = str(sources).rstrip("/") + "/"
        con.execute("BEGIN")
        con.execute(
            "DELETE FROM quarantine WHERE extract IN "
            "(SELECT DISTINCT replace(extract, ?, '') FROM stg.quarantine "
            "UNION ALL SELECT unnest(?::VARCHAR[]))",
            [prefix, list(replacing)],
        )
        con.execute(
            "INSERT INTO quarantine SELECT replace(extract, ?, ''), line, record_id, reason, "
            "detail, raw, ?, now() FROM stg.quarantine",
            [prefix, run_id],
        )
        con.execute("COMMIT")
    finally:
        con.close()
    target.chmod(0o600)


def counts(settings: Settings, product_ref: str) -> dict[str, int]:
    target = zone_file(settings, product_ref)
    if not target.exists():
        return {}
    con: duckdb.DuckDBPyConnection = duckdb_connect(str(target), read_only=True)
    try:
        return dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall())
    finally:
        con.close()


def summary(settings: Settings, product_ref: str) -> list[tuple[str, str, int, object]]:
    """``(reason, extract, rows, last quarantined at)`` per reason and extract: counts only.

    What a steward needs to find the rows in their own extract (the file and the reason),
    without a single quarantined value leaving the zone.
    """
    target = zone_file(settings, product_ref)
    if not target.exists():
        return []
    con: duckdb.DuckDBPyConnection = duckdb_connect(str(target), read_only=True)
    try:
        rows = con.execute(
            "SELECT reason, coalesce(extract, '(after loading)'), count(*), max(quarantined_at) "
            "FROM quarantine GROUP BY ALL ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()
    return [(str(r), str(e), int(n), at) for r, e, n, at in rows]
