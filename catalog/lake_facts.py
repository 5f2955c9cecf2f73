"""Fill :class:`CatalogFacts` from the real lake: snapshots, load log, quality history, register.

Everything is read through one read-only connection, so the facts describe
one snapshot of the lake. The platform's own tables (``_regionlab.load_log``,
``_regionlab.quality_history``) and the initiatives product may be absent —
a fresh lake, or a pipeline that has not run yet — and are then skipped.

Pipeline runs are reconstructed from what the lake recorded: each snapshot
a publish committed carries its run id (a successful run of those products),
and a run id that only appears in the quality history is an audit that
blocked the publish (a failed run).

Retention and erasure counts come from the erasure register beside the lake
(:mod:`catalog.erasure_facts`), not from the lake itself.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import duckdb

from catalog.erasure_facts import erasure_facts
from catalog.facts import (
    CatalogFacts,
    ColumnProfile,
    Initiative,
    PipelineRun,
    ProductFacts,
    QualityRun,
)
from catalog.lake_stats import stats_from
from catalog.safety import looks_like_values
from catalog.table_aggregates import TableAggregates, dump_models, load_models
from regionlab import lake
from regionlab.errors import UserError
from regionlab.platform.tables import (
    DELIVERY_LOG,
    LOAD_LOG,
    QUALITY_HISTORY,
    product_table_exists,
)
from regionlab.results import CheckResult
from regionlab.spec import Product, Registry
from regionlab.sql import quote_ident
from regionlab.streaming.tables import STREAM_BATCHES

#: The initiatives register, a product of its own (``initiatives/initiatives``).
INITIATIVES = "initiatives/initiatives"


def _rejected_last(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Product → ``<file>: <reason>`` where the newest delivery checked was rejected.

    The delivery log's messages are value-free by construction (file, line, column,
    reason); one that still looks like it quotes something (a found delimiter) is
    shortened to the reason code. A delivery loaded or found empty after a rejection
    clears it.
    """
    if not DELIVERY_LOG.exists(con):
        return {}
    rows = con.execute(
        f"SELECT product, extract, reason, message FROM {DELIVERY_LOG.qualified} "
        "QUALIFY row_number() OVER (PARTITION BY product ORDER BY checked_at DESC, "
        "extract DESC) = 1 AND outcome = 'rejected'"
    ).fetchall()
    out = {}
    for product, extract, reason, message in rows:
        text = str(message or reason or "rejected")
        if looks_like_values(text):
            text = f"{extract}: {reason or 'rejected'}"
        out[str(product)] = text if text.startswith(f"{extract}:") else f"{extract}: {text}"
    return out


def _column_profiles(con: duckdb.DuckDBPyConnection, product: Product) -> list[ColumnProfile]:
    """Null and distinct counts of the product's published columns, in one aggregate query.

    Only counts leave the query: no minimum, maximum, mean, quantile or sample, since
    for person-level and free-text columns each of those is a value. Columns the
    table does not have (a spec edited since the last publish) are left out.
    """
    table = lake.table_name(product.domain, product.id)
    present = {d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description}
    names = [c.name for c in product.published_columns if c.name in present]
    if not names:
        return []
    parts = ["count(*)"]
    for name in names:
        col = quote_ident(name)
        parts += [f"count({col})", f"count(DISTINCT {col})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
    assert row is not None
    total = int(row[0])
    return [
        ColumnProfile(
            name=name,
            null_count=total - int(row[1 + 2 * i]),
            distinct_count=int(row[2 + 2 * i]),
        )
        for i, name in enumerate(names)
    ]


def _profiles(
    con: duckdb.DuckDBPyConnection, product: Product, aggregates: TableAggregates
) -> list[ColumnProfile]:
    rows = aggregates.remember(
        "profile", product, [], lambda: dump_models(_column_profiles(con, product))
    )
    return load_models(ColumnProfile, rows)


def _stream_facts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    """Per streaming product: newest event time published and the newest batch's p95 lag."""
    if not STREAM_BATCHES.exists(con):
        return {}
    rows = con.execute(
        f"SELECT product, max(last_event_at) FILTER (WHERE published > 0), "
        f"arg_max(lag_p95_ms, committed_at) FROM {STREAM_BATCHES.qualified} GROUP BY product"
    ).fetchall()
    return {str(p): {"newest_event": newest, "lag_p95_ms": lag} for p, newest, lag in rows}


def _product_facts(
    con: duckdb.DuckDBPyConnection, registry: Registry, aggregates: TableAggregates
) -> dict[str, ProductFacts]:
    counts = lake.table_row_counts(con)
    latest: dict[str, lake.Snapshot] = {}
    for snap in lake.list_snapshots(con):
        if (ref := snap.published_ref) is not None:
            latest[ref] = snap
    newest: dict[str, dt.date] = {}
    if LOAD_LOG.exists(con):
        rows = con.execute(
            # An empty delivery ("nothing new", rows_read 0) is no newer data: a truncated
            # transfer must not make a product look fresh.
            f"SELECT product, max(extract_date) FILTER (WHERE rows_read IS DISTINCT FROM 0) "
            f"FROM {LOAD_LOG.qualified} GROUP BY product"
        ).fetchall()
        newest = {str(p): d for p, d in rows if d is not None}
    rejected = _rejected_last(con)
    streams = _stream_facts(con)
    present = {f"{d}/{p}" for d, p in lake.list_tables(con)}
    facts: dict[str, ProductFacts] = {}
    for product in registry.topological():
        snap = latest.get(product.ref)
        info = snap.info if snap else {}
        key_id = info.get("key_id") or None
        if key_id is None and product.is_derived:
            # A derived product joins on its upstreams' person key: it carries their key id.
            ups = {facts[u].key_id for u in product.upstream if u in facts and facts[u].key_id}
            key_id = ups.pop() if len(ups) == 1 else None
        facts[product.ref] = ProductFacts(
            snapshot_id=snap.id if snap else None,
            row_count=counts.get(f"{product.domain}.{product.id}"),
            newest_extract=newest.get(product.ref),
            published_at=snap.time if snap else None,
            key_id=key_id,
            run_id=info.get("run_id") or None,
            last_delivery_rejected=rejected.get(product.ref),
            **streams.get(product.ref, {}),
            columns=_profiles(con, product, aggregates) if product.ref in present else [],
        )
    return facts


def _quality(con: duckdb.DuckDBPyConnection) -> dict[str, list[QualityRun]]:
    if not QUALITY_HISTORY.exists(con):
        return {}
    rows = con.execute(
        f'SELECT product, snapshot_id, run_id, "check", category, severity, status, '
        f"unexpected_count, element_count, description, checked_at "
        f"FROM {QUALITY_HISTORY.qualified} ORDER BY product, checked_at, run_id"
    ).fetchall()
    runs: dict[tuple[str, str], QualityRun] = {}
    for (
        product,
        snap,
        run_id,
        check,
        category,
        severity,
        status,
        unexpected,
        elements,
        description,
        checked_at,
    ) in rows:
        key = (str(product), str(run_id))
        run = runs.get(key)
        if run is None:
            run = runs[key] = QualityRun(
                run_id=str(run_id), checked_at=checked_at, snapshot_id=snap, results=[]
            )
        run.checked_at = max(run.checked_at, checked_at)
        run.results.append(
            CheckResult(
                check=check,
                category=category or "",
                severity=severity or "blocking",
                status=status,
                description=description or "",
                unexpected_count=unexpected,
                element_count=elements,
            )
        )
    out: dict[str, list[QualityRun]] = defaultdict(list)
    for (product, _), run in runs.items():
        out[product].append(run)
    return dict(out)


def _runs(
    con: duckdb.DuckDBPyConnection, quality: dict[str, list[QualityRun]]
) -> list[PipelineRun]:
    published: dict[str, dict] = {}
    for snap in lake.list_snapshots(con):
        # Only publishes are successful runs; a blocked audit, an erasure or a retention
        # snapshot (each kind the platform writes) is not, whatever keys it carries.
        info, ref = snap.info, snap.published_ref
        run_id = info.get("run_id")
        if not run_id or ref is None:
            continue
        run = published.setdefault(
            run_id, {"start": snap.time, "end": snap.time, "products": set()}
        )
        run["start"] = min(run["start"], snap.time)
        run["end"] = max(run["end"], snap.time)
        run["products"].add(ref)
    failed: dict[str, dict] = {}
    for product, runs in quality.items():
        for qrun in runs:
            if qrun.run_id in published:
                published[qrun.run_id]["start"] = min(
                    published[qrun.run_id]["start"], qrun.checked_at
                )
                continue
            run = failed.setdefault(
                qrun.run_id, {"start": qrun.checked_at, "end": qrun.checked_at, "products": set()}
            )
            run["end"] = max(run["end"], qrun.checked_at)
            run["products"].add(product)
    return [
        PipelineRun(
            run_id=run_id,
            started_at=r["start"],
            ended_at=r["end"],
            status=status,
            products=sorted(r["products"]),
        )
        for status, group in (("success", published), ("failure", failed))
        for run_id, r in sorted(group.items())
    ]


def _initiatives(con: duckdb.DuckDBPyConnection) -> list[Initiative]:
    if not product_table_exists(con, INITIATIVES):
        return []
    domain, name = INITIATIVES.split("/")
    cur = con.execute(f"SELECT * FROM {lake.table_name(domain, name)} ORDER BY initiative_id")
    names = [d[0] for d in cur.description]
    fields = set(Initiative.model_fields)
    return [
        Initiative.model_validate({k: v for k, v in zip(names, row, strict=True) if k in fields})
        for row in cur.fetchall()
    ]


def facts_from_lake(registry: Registry, now: dt.datetime | None = None) -> CatalogFacts:
    """Read the lake (read-only) into facts; an absent lake gives facts without state."""
    now = now or dt.datetime.now(dt.UTC)
    erasure = erasure_facts(sorted(registry.products))
    try:
        con = lake.connect(read_only=True)
    except UserError:  # no lake yet: the catalogue still describes the specs
        return CatalogFacts(generated_at=now, erasure=erasure)
    try:
        quality = _quality(con)
        aggregates = TableAggregates.for_emission(con, registry)
        facts = CatalogFacts(
            generated_at=now,
            products=_product_facts(con, registry, aggregates),
            quality=quality,
            runs=_runs(con, quality),
            initiatives=_initiatives(con),
            erasure=erasure,
            stats=stats_from(con, registry, aggregates),
        )
        aggregates.save()
        return facts
    finally:
        con.close()
