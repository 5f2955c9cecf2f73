"""A streaming product's cross-product rules, judged on a schedule over its published events.

A micro-batch judges each event by the rules that can judge one event; a rule that
reads another product — the person is in the population, an observation is not
after the person's death — would cost every micro-batch a join against that
product and could not block events anyway (a late correction of the population
would have to un-publish them). So those rules run on a schedule (the Dagster job
``stream_cross_checks``) over the whole published table at one snapshot, with the
same SQL as the batch path's audit (:mod:`quality.cross_checks`), and their
results go to the quality history like every other check: counts only.
"""

from __future__ import annotations

import datetime as dt
import uuid

import duckdb

from quality.cross_checks import run_rule
from quality.outcomes import result
from regionlab import lake
from regionlab.platform.tables import QUALITY_HISTORY, lake_table_exists, quality_history_rows
from regionlab.results import CheckResult, Status
from regionlab.spec import Product
from regionlab.spec.rule_kinds import CrossContext, is_cross_rule
from regionlab.sql import quote_ident


def scheduled_rules(product: Product) -> list:
    """The product's rules over other products (judged on a schedule, not per event)."""
    return [r for r in product.quality if is_cross_rule(r) and r.reference() is not None]


def judge_published(
    con: duckdb.DuckDBPyConnection, product: Product, as_of: dt.date
) -> list[CheckResult]:
    """Each scheduled rule over the product's published rows (``con``: the lake attached)."""
    rules = scheduled_rules(product)
    if not lake_table_exists(con, product.domain, product.id):
        return [result(r, Status.errored, detail="not run: no events published yet") for r in rules]
    table = f"lake.{quote_ident(product.domain)}.{quote_ident(product.id)}"
    ctx = CrossContext(con, table, product, as_of)
    return [run_rule(ctx, rule) for rule in rules]


def check_stream(product: Product, as_of: dt.date | None = None) -> list[CheckResult]:
    """Judge the scheduled rules at one snapshot and add the results to the quality history."""
    if not scheduled_rules(product):
        return []
    now = dt.datetime.now(dt.UTC)
    con = lake.connect()
    try:
        with lake.transaction(con):  # one snapshot for every rule
            snapshot = lake.current_snapshot(con)
            results = judge_published(con, product, as_of or now.date())
        run_id = f"stream-checks-{uuid.uuid4().hex[:12]}"
        rows = quality_history_rows(results, product.ref, snapshot, run_id, now)
        create = QUALITY_HISTORY.create_statements(con)
        with lake.write_lock(con, lake.LAKE_ALIAS):
            if create:
                with lake.transaction(con):
                    for sql, params in create:
                        con.execute(sql, params)
            with lake.transaction(con):
                con.executemany(QUALITY_HISTORY.insert, [list(r) for r in rows])
    finally:
        con.close()
    return results
