"""Old person key → new person key, re-derived from the CPR numbers in the source zone.

A person key is ``HMAC(key, CPR)``: it cannot be re-keyed from itself. The
source zone (``<var>/sources``: the deliveries of every source product with a
person column, the CPR register among them) still holds the CPR numbers, so
every distinct CPR there is keyed under the old and under the new key, and
the pair is the mapping. CPR numbers the operator supplies (erased persons
whose numbers the sources no longer hold, from the region's case handling)
join the same mapping.

The CPR numbers stay in a scratch DuckDB connection of their own; only the
two HMACs of each leave it (as Arrow), so no CPR number ever reaches the
lake connection or a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from regionlab.lake import duckdb_connect
from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import hmac_params, hmac_sql
from regionlab.settings import Settings
from regionlab.spec import Registry
from regionlab.sql import quote_ident
from regionlab.wap.sources import ingest, reader_for

#: The mapping's temp table on the lake connection: ``(old VARCHAR, new VARCHAR)``.
MAP = "__rl_rotate_map"


@dataclass
class SourceCount:
    """What the source zone gave the mapping (counts only)."""

    deliveries_read: int = 0
    deliveries_unreadable: int = 0
    persons: int = 0


def _collect(scratch: duckdb.DuckDBPyConnection, settings: Settings, registry: Registry) -> int:
    """Fill ``cprs(norm)`` with every distinct CPR of every delivery; return unreadable ones."""
    unreadable = 0
    for product in registry.products.values():
        if product.source is None or not product.source.person_column:
            continue
        column = quote_ident(product.source.person_column)
        for delivery in reader_for(product).discover(settings.sources_dir, product):
            # A reader's scratch tables (CSV rejects) outlive its call: start each read clean.
            for table in ("quarantine", "raw", "temp.main.rejects_err", "temp.main.rejects_scan"):
                scratch.execute(f"DROP TABLE IF EXISTS {table}")
            try:
                ingest(scratch, product, [delivery])
            except Exception:  # counted; the plan refuses for the persons it then misses
                # A rejected delivery was never published either. Its error text may quote
                # a source line, so it is not kept: only counted.
                unreadable += 1
                continue
            scratch.execute(
                f"INSERT INTO cprs SELECT DISTINCT cpr_normalise(CAST({column} AS VARCHAR)) "
                f"FROM raw WHERE cpr_normalise(CAST({column} AS VARCHAR)) IS NOT NULL"
            )
    return unreadable


def build_mapping(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    registry: Registry,
    old: PseudonymKey,
    new: PseudonymKey,
    extra_cprs: Iterable[str] = (),
) -> SourceCount:
    """Create ``temp.main.__rl_rotate_map(old, new)`` on ``con`` (the lake connection)."""
    count = SourceCount()
    # In memory; should DuckDB spill, it spills into the staging folder (0700, owner only),
    # not into the working directory.
    spill = settings.staging_dir
    spill.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = duckdb_connect(config={"temp_directory": str(spill / "rotation.tmp")})
    try:
        install_cpr_macros(scratch)
        scratch.execute("CREATE TABLE cprs (norm VARCHAR)")
        found = [
            d
            for p in registry.products.values()
            if p.source is not None and p.source.person_column
            for d in reader_for(p).discover(settings.sources_dir, p)
        ]
        count.deliveries_unreadable = _collect(scratch, settings, registry)
        count.deliveries_read = len(found) - count.deliveries_unreadable
        extra = sorted(set(extra_cprs))
        if extra:
            scratch.execute(
                "INSERT INTO cprs SELECT cpr_normalise(x) FROM unnest(?::VARCHAR[]) AS u(x) "
                "WHERE cpr_normalise(x) IS NOT NULL",
                [extra],
            )
        scratch.execute("CREATE TABLE distinct_cprs AS SELECT DISTINCT norm FROM cprs")
        scratch.execute("DROP TABLE cprs")
        scratch.execute(
            f"CREATE TABLE keyed AS SELECT norm, {hmac_sql('norm')} AS old FROM distinct_cprs",
            hmac_params(old),
        )
        table: pa.Table = scratch.execute(
            f"SELECT old, {hmac_sql('norm')} AS new FROM keyed", hmac_params(new)
        ).to_arrow_table()
    finally:
        scratch.close()
    count.persons = table.num_rows
    con.register("__rl_rotate_arrow", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {MAP} AS SELECT old, new FROM __rl_rotate_arrow")
    finally:
        con.unregister("__rl_rotate_arrow")
    return count
