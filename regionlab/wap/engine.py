"""Write–audit–publish for one product, independent of Dagster so it can be tested directly.

The Dagster asset (``pipelines.assets``) is a thin wrapper that turns a
:class:`ProductRun` into materialization metadata and asset-check results.
Sources come in through their reader (:mod:`regionlab.wap.sources`), the
quality rules through the hook the caller passes, quarantine rules through
the rule kinds' row predicates (:mod:`regionlab.spec.rules`); each step is
marked with :func:`regionlab.steps.step` for whoever observes it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.errors import UserError
from regionlab.platform import lake_key
from regionlab.platform.names import DELIVERY_COLUMN, DELIVERY_VOLUME
from regionlab.platform.tables import (
    DELIVERY_LOG,
    LOAD_LOG,
    QUALITY_HISTORY,
    lake_table_exists,
    product_table_exists,
    quality_history_rows,
)
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.results import CheckResult, Status
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.sql import quote_ident, quote_literal
from regionlab.steps import step
from regionlab.wap import erasure_hook, load_log, quarantine_zone
from regionlab.wap.delivery_checks import Outcome, Verdict, check_delivery
from regionlab.wap.plan import (  # noqa: F401  (ProductRun, reload_command: re-exported)
    ProductRun,
    _has_delivery_column,
    _rows_attributable,
    _select_extracts,
    _unrecorded_changes,
    nothing_to_do,
    reload_command,
)
from regionlab.wap.privacy_gates import privacy_gates
from regionlab.wap.pseudonymise import build_staged, quarantine_duplicates, quarantine_invalid_cpr
from regionlab.wap.register_names import register_names
from regionlab.wap.safe_errors import ReconciliationError, inflight, value_free_errors
from regionlab.wap.sources import QUARANTINE_DDL, Extract, ingest, reader_for
from regionlab.wap.staging import (
    private_folders,
    protect,
    run_duckdb_config,
    staging_file,
    sweep_stale,
)

#: Hook the quality layer fills: (connection with `staged`, product, reference date) → results.
QualityHook = Callable[[duckdb.DuckDBPyConnection, Path, Product, dt.date], list[CheckResult]]


def fault_point() -> None:
    """Fault injection for the crash-safety test: pause between audit and publish.

    When ``REGIONLAB_FAULT_PAUSE_BEFORE_PUBLISH`` names a file, the run writes it
    and sleeps, so a test can kill the process at exactly this point.
    """
    marker = os.environ.get("REGIONLAB_FAULT_PAUSE_BEFORE_PUBLISH")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(600)


def _add_delivery_column(con: duckdb.DuckDBPyConnection, product: Product, run: ProductRun) -> None:
    """Migrate a table published before the delivery column existed (its rows get NULL).

    Appending needs the column (rows are inserted by name); rows published before it
    cannot be attributed, which a reload of one of their deliveries says.
    """
    if not lake_table_exists(con, product.domain, product.id) or _has_delivery_column(con, product):
        return
    with lake.write_lock(con, "lake"), lake.transaction(con):
        con.execute(
            f"ALTER TABLE lake.{product.table} ADD COLUMN {quote_ident(DELIVERY_COLUMN)} VARCHAR"
        )
        con.execute(
            "CALL ducklake_set_commit_message('lake', 'regionlab', ?, extra_info => ?)",
            [
                f"add the delivery column to {product.ref}",
                json.dumps({"kind": "migration", "run_id": run.run_id, "product": product.ref}),
            ],
        )


def _ensure_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    """Create the bookkeeping tables on their own, before a transaction writes to them.

    DuckLake 1.5.5 fails a commit that creates a table and then inlines rows into
    another existing one (see :func:`regionlab.lake.publishing._publish_once`).
    """
    tables = (LOAD_LOG, DELIVERY_LOG, QUALITY_HISTORY)
    if all(t.exists(con) for t in tables):
        return
    with lake.write_lock(con, "lake"):
        for table in tables:
            table.ensure(con)


def _history_statements(
    con: duckdb.DuckDBPyConnection, product: Product, run: ProductRun
) -> list[tuple[str, list[object]]]:
    """Statements appending this run's check results to the lake's quality history.

    ``snapshot_id`` is the snapshot the run started from: the published snapshot is
    not known inside its own transaction, and the run id links the two.
    """
    now = dt.datetime.now(dt.UTC)
    rows = quality_history_rows(run.checks, product.ref, run.base_snapshot, run.run_id, now)
    return QUALITY_HISTORY.create_statements(con) + [
        (QUALITY_HISTORY.insert, list(r)) for r in rows
    ]


def _record_failed_audit(con: duckdb.DuckDBPyConnection, product: Product, run: ProductRun) -> None:
    """A blocked run publishes no rows, but its check results still join the history."""
    _ensure_bookkeeping(con)
    with lake.write_lock(con, "lake"):
        con.execute("BEGIN TRANSACTION")
        for sql, params in _history_statements(con, product, run):
            con.execute(sql, params)
        con.execute(
            "CALL ducklake_set_commit_message('lake', 'regionlab', ?, extra_info => ?)",
            [
                f"audit failed for {product.ref}; nothing published",
                json.dumps(
                    {
                        "kind": "audit_failed",
                        "run_id": run.run_id,
                        "audited": product.ref,
                        "failed_checks": [c.check for c in run.blocking_failures],
                    }
                ),
            ],
        )
        con.execute("COMMIT")


def _cleared_to_publish(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    run: ProductRun,
    staging: Path,
    before_publish: Callable[[], None] | None,
) -> bool:
    """After the audit: record a blocked run and say no, or attach the staging file to publish."""
    if run.blocking_failures:
        run.status = "audit_failed"
        _record_failed_audit(con, product, run)
        return False
    (before_publish or fault_point)()
    con.execute(f"ATTACH {quote_literal(str(staging))} AS staging (READ_ONLY)")
    return True


def _close_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Release the staging file so the quality layer (its own engine) can open it."""
    con.execute("USE memory")
    con.execute("DETACH staging")


_DELIVERY = quote_ident(DELIVERY_COLUMN)


def _delivery_sql(sources: Path) -> str:
    """SQL over ``raw``: the delivery's name (as in the load log) from its path."""
    prefix = str(sources).rstrip("/") + "/"
    return (
        f"CASE WHEN starts_with(_extract, {quote_literal(prefix)}) "
        f"THEN substr(_extract, {len(prefix) + 1}) ELSE _extract END"
    )


def _apply_row_rules(con: duckdb.DuckDBPyConnection, product: Product, ref_date: dt.date) -> None:
    for rule in product.quality:
        if not getattr(rule, "quarantine", False):
            continue
        where = rule.row_predicate(product, ref_date)
        if where is None:
            continue
        con.execute(
            f"INSERT INTO quarantine SELECT {_DELIVERY}, NULL, NULL, 'rule:{rule.id}', NULL, "
            f"to_json(staged)::VARCHAR FROM staged WHERE {where}"
        )
        con.execute(f"DELETE FROM staged WHERE {where}")


def _quarantine_known_keys(
    con: duckdb.DuckDBPyConnection, product: Product, reloading: str | None
) -> None:
    """In append mode a row key already in the lake is a re-delivered row, not a new one.

    A reload replaces the rows of ``reloading``, so only other deliveries' keys count.
    """
    if not product_table_exists(con, product.ref):
        return
    keys = " AND ".join(f"l.{quote_ident(k)} = s.{quote_ident(k)}" for k in product.row_key)
    if reloading is not None:
        keys += f" AND l.{_DELIVERY} IS DISTINCT FROM {quote_literal(reloading)}"
    where = f"EXISTS (SELECT 1 FROM lake.{product.table} l WHERE {keys})"
    con.execute(
        f"INSERT INTO quarantine SELECT s.{_DELIVERY}, NULL, NULL, 'duplicate_row', 'row key "
        f"already published', to_json(s)::VARCHAR FROM staged s WHERE {where}"
    )
    con.execute(f"DELETE FROM staged s WHERE {where}")


@value_free_errors
def run_source_product(
    product: Product,
    settings: Settings,
    *,
    full_refresh: bool = False,
    quality_hook: QualityHook | None = None,
    run_id: str | None = None,
    key: PseudonymKey | None = None,
    before_publish: Callable[[], None] | None = None,
    keep_staging: bool = False,
    reload: str | None = None,
) -> ProductRun:
    """Check the new deliveries, ingest, pseudonymise, audit in a staging file, publish.

    A delivery that fails its delivery-level check is not loaded (one message, the
    previous snapshot stays current); an empty one is recorded as "nothing new".
    Every error leaves through :func:`value_free_errors`, without source values.

    ``reload`` names a loaded delivery (as in the load log) whose content changed:
    it is read again through the same checks, and its published rows are replaced
    by the new ones in one snapshot (a replace product's newest delivery replaces
    the table); an audit that blocks changes nothing.

    ``keep_staging`` leaves the staging file (raw rows, CPR numbers included) for the
    benchmark's GX-vs-SQL comparison, which deletes it; nothing else should keep it.
    """
    run = ProductRun(product=product.ref, run_id=run_id or uuid.uuid4().hex)
    needs_key = bool(product.source and product.source.person_column)
    key = key or (load_key() if needs_key else None)
    run.key_id = key.key_id if key else None
    sweep_stale(settings)
    with step("lake_connect"):
        config = run_duckdb_config(settings, product.domain, product.id, run.run_id)
        con = lake.connect(duckdb_config=config)
    private_folders(settings)
    try:
        if key is not None:  # never mix person keys of two keys in one lake
            lake_key.check_key(con, key.key_id)
        with step("select_extracts"):
            found, replace = _select_extracts(con, settings, product, full_refresh, run, reload)
        run.replace = replace
        inflight.set(tuple(f.name for f in found))
        with step("delivery_checks"):
            files = _checked(con, product, run, found, reload)
        if not files:
            return run
        run.reloaded = reload
        run.base_snapshot = lake.current_snapshot(con)
        run.extracts = [f.name for f in files]
        ref_date = max(f.date for f in files)
        with staging_file(settings, product.domain, product.id, keep=keep_staging) as staging:
            staged = run.rows_staged = _stage(
                con, staging, settings, product, files, key, run, replace, ref_date
            )
            if replace:
                run.checks.append(_volume_guard(con, product, staged))
            if quality_hook is not None:
                run.checks += quality_hook(con, staging, product, ref_date)
            # A reload whose audit blocks changes nothing, its old quarantine entries included.
            if reload is None or not run.blocking_failures:
                with step("quarantine_zone"):
                    quarantine_zone.store(
                        settings,
                        product.ref,
                        staging,
                        settings.sources_dir,
                        run.run_id,
                        replacing=run.extracts,
                    )
            if not _cleared_to_publish(con, product, run, staging, before_publish):
                return run
            with step("publish"):
                run.snapshot_id = _publish(con, product, run, files, replace)
            run.rows_published = staged
            run.status = "published"
            return run
    finally:
        con.close()


def _checked(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    run: ProductRun,
    found: list[Extract],
    reload: str | None = None,
) -> list[Extract]:
    """The deliveries that passed their delivery-level check; record every outcome.

    Rejected and empty deliveries are recorded at once (empty ones also in the load
    log, so they are not looked at again); the ones to load are recorded with the
    publish, so a run that fails later leaves no trace of having loaded them. A
    reloaded delivery that is now empty is rejected: reloading it would delete every
    row that came from it, which a steward does on purpose with ``--full-refresh``.
    """
    reader = reader_for(product)
    run.deliveries = [_reload_verdict(product, check_delivery(product, f), reload) for f in found]
    settled = [(f, v) for f, v in zip(found, run.deliveries, strict=True) if v.outcome != "ok"]
    changed = _unrecorded_changes(con, product, run)
    if settled or changed:
        outcomes = [
            (f.name, reader.fingerprint(f), str(v.outcome), v.reason, v.message) for f, v in settled
        ]
        outcomes += [
            (name, "", "changed", "changed_after_load", f"{name}: content changed after it "
             f"was loaded; not reloaded (`{reload_command(name)}` replaces its rows)")
            for name in changed
        ]  # fmt: skip
        statements = load_log.outcome_statements(con, product.ref, outcomes, run.run_id)
        empties = [
            (f.name, reader.fingerprint(f), f.date, run.run_id)
            for f, v in settled
            if v.outcome is Outcome.empty
        ]
        if empties:
            statements += load_log.statements(con, product.ref, empties, replace=False, rows_read=0)
        _commit(con, statements, f"delivery checks of {product.ref}", run)
    if run.rejected and not any(v.outcome is Outcome.ok for v in run.deliveries):
        run.status = "delivery_rejected"
    return [f for f, v in zip(found, run.deliveries, strict=True) if v.outcome is Outcome.ok]


def _reload_verdict(product: Product, verdict: Verdict, reload: str | None) -> Verdict:
    if reload is None or verdict.outcome is not Outcome.empty:
        return verdict
    return Verdict(
        verdict.delivery,
        Outcome.rejected,
        "empty_reload",
        f"{verdict.delivery}: now has no records; reloading it would delete every row that "
        f"came from it, so nothing was changed. If those rows must go, `regionlab run "
        f"--product {product.ref} --full-refresh` rebuilds the product from every delivery "
        "as it is now",
    )


def _commit(
    con: duckdb.DuckDBPyConnection,
    statements: list[tuple[str, list[object]]],
    message: str,
    run: ProductRun,
) -> None:
    """Run bookkeeping statements in one lake transaction with a commit message."""
    _ensure_bookkeeping(con)
    with lake.write_lock(con, "lake"):
        con.execute("BEGIN TRANSACTION")
        for sql, params in statements:
            con.execute(sql, params)
        con.execute(
            "CALL ducklake_set_commit_message('lake', 'regionlab', ?, extra_info => ?)",
            [message, json.dumps({"run_id": run.run_id, "product": run.product})],
        )
        con.execute("COMMIT")


def _volume_guard(con: duckdb.DuckDBPyConnection, product: Product, staged: int) -> CheckResult:
    """Blocking: a replacing snapshot may not shrink or grow beyond the spec's guard."""
    assert product.source is not None
    guard = product.source.volume_guard
    current = (
        con.execute(f"SELECT count(*) FROM lake.{product.table}").fetchone()[0]
        if product_table_exists(con, product.ref)
        else 0
    )
    change = (staged - current) / current if current else 0.0
    ok = not current or (-guard.max_shrink <= change <= guard.max_growth)
    detail = (
        f"the new snapshot has {staged} rows against {current} in the current one "
        f"({change:+.1%}; allowed {-guard.max_shrink:+.0%} to {guard.max_growth:+.0%})"
        if current
        else f"first snapshot: {staged} rows"
    )
    if not ok:
        detail += (
            "; the previous snapshot stays current. If the change is real, raise "
            "source.volume_guard in the spec for this delivery; otherwise ask for a new delivery"
        )
    return CheckResult(
        check=DELIVERY_VOLUME.name,
        category="reconciliation",
        severity="blocking",
        status=Status.passed if ok else Status.failed,
        description=DELIVERY_VOLUME.summary,
        unexpected_count=None if ok else abs(staged - current),
        element_count=staged,
        detail=detail,
    )


def _stage(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    settings: Settings,
    product: Product,
    files: Sequence[Extract],
    key: PseudonymKey | None,
    run: ProductRun,
    replace: bool,
    ref_date: dt.date,
) -> int:
    """Write and privacy-audit ``staged`` in the staging file; return its row count.

    Every record read ends in ``staged`` or ``quarantine``; the reconciliation is
    checked here, before anything can be published, and the staging file is
    released afterwards for the quality layer.
    """
    con.execute(f"ATTACH {quote_literal(str(staging))} AS staging")
    protect(staging)
    con.execute("USE staging")
    with step("ingest"):
        run.rows_read = ingest(con, product, list(files))
    with step("quarantine"):
        quarantine_duplicates(con, product)
        if product.source and product.source.person_column:
            quarantine_invalid_cpr(con, product)
    with step("register_names"):
        names = register_names(settings.sources_dir)
    with step("pseudonymise"):
        build_staged(con, product, key, names, ref_date, _delivery_sql(settings.sources_dir))
    with step("quarantine"):
        erasure_hook.quarantine_erased(con, product, key)
        _apply_row_rules(con, product, ref_date)
        if not replace:
            _quarantine_known_keys(con, product, run.reloaded)
    run.quarantined.update(
        dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall())
    )
    with step("audit_privacy"):
        run.checks = privacy_gates(con, product, names)
    staged = con.execute("SELECT count(*) FROM staged").fetchone()[0]
    with step("staging_checkpoint"):
        _close_staging(con)
    if staged + run.quarantined.total() != run.rows_read:
        raise ReconciliationError(
            f"reconciliation failed for {product.ref}: read {run.rows_read}, "
            f"staged {staged}, quarantined {run.quarantined.total()}"
        )
    return staged


def _publish(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    run: ProductRun,
    files: Sequence[Extract],
    replace: bool,
) -> int:
    _ensure_bookkeeping(con)
    reader = reader_for(product)
    log_rows = [(f.name, reader.fingerprint(f), f.date, run.run_id) for f in files]
    if run.reloaded is not None:
        statements = _reload_statements(con, product, run, log_rows, replace)
    else:
        if not replace:
            _add_delivery_column(con, product, run)
        statements = load_log.statements(con, product.ref, log_rows, replace=replace)
    statements += _history_statements(con, product, run)
    if run.key_id:
        statements += lake_key.register_statements(con, run.key_id, run.run_id)
    return lake.publish(
        con,
        product.domain,
        product.id,
        "staging.main.staged",
        mode="replace" if replace else "append",
        commit_message=f"publish {product.ref}",
        extra_info={
            "run_id": run.run_id,
            "key_id": run.key_id,
            "extracts": run.extracts,
            "quarantined": json.dumps(dict(run.quarantined)),
        }
        | ({"reloaded": run.reloaded} if run.reloaded else {}),
        also=statements,
    )


def _reload_statements(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    run: ProductRun,
    log_rows: list[tuple[str, str, object, str]],
    replace: bool,
) -> list[tuple[str, list[object]]]:
    """The bookkeeping of a reload, for the publish transaction that inserts the new rows.

    The delivery's published rows are deleted (an append product; a replace product's
    table is replaced whole), its load-log row gets the new fingerprint and the delivery
    log says it was reloaded — all in the snapshot that publishes the re-read rows.
    """
    assert run.reloaded is not None
    name = run.reloaded
    run.rows_replaced = con.execute(
        f"SELECT count(*) FROM lake.{product.table}"
        + ("" if replace else f" WHERE {_DELIVERY} = ?"),
        [] if replace else [name],
    ).fetchone()[0]
    out = load_log.statements(con, product.ref, log_rows, replace=replace)
    if not replace:
        out.insert(
            len(LOAD_LOG.create_statements(con)),
            (f"DELETE FROM {LOAD_LOG.qualified} WHERE product = ? AND extract = ?",
             [product.ref, name]),
        )  # fmt: skip
        out.append((f"DELETE FROM lake.{product.table} WHERE {_DELIVERY} = ?", [name]))
    sha = log_rows[0][1]
    message = (
        f"{name}: reloaded; its {run.rows_replaced} published rows were replaced by "
        f"{run.rows_staged}"
    )
    out += load_log.outcome_statements(
        con, product.ref, [(name, sha, "reloaded", "reloaded", message)], run.run_id
    )
    return out


@value_free_errors
def run_derived_product(
    product: Product,
    settings: Settings,
    *,
    quality_hook: QualityHook | None = None,
    run_id: str | None = None,
    before_publish: Callable[[], None] | None = None,
) -> ProductRun:
    """Run the product's SQL over the lake at one snapshot, audit it, publish it as a whole."""
    assert product.derived is not None
    run = ProductRun(product=product.ref, run_id=run_id or uuid.uuid4().hex)
    sweep_stale(settings)
    with step("lake_connect"):
        config = run_duckdb_config(settings, product.domain, product.id, run.run_id)
        con = lake.connect(duckdb_config=config)
    private_folders(settings)
    try:
        missing = [up for up in product.upstream if not product_table_exists(con, up)]
        if missing:
            raise UserError(
                f"{product.ref} needs {', '.join(missing)} in the lake; run them first "
                f"(`regionlab run` runs upstreams before derived products)"
            )
        source_snapshot = run.base_snapshot = lake.current_snapshot(con)
        with staging_file(settings, product.domain, product.id) as staging:
            con.execute(f"ATTACH {quote_literal(str(staging))} AS staging")
            protect(staging)
            con.execute(QUARANTINE_DDL.replace("quarantine", "staging.main.quarantine", 1))
            con.execute("USE lake")
            con.execute(f"CREATE TABLE staging.main.staged AS {product.derived.sql}")
            con.execute("USE staging")
            run.rows_read = con.execute("SELECT count(*) FROM staged").fetchone()[0]
            names = register_names(settings.sources_dir)
            with step("audit_privacy"):
                run.checks = privacy_gates(con, product, names)
            _close_staging(con)
            if quality_hook is not None:
                run.checks += quality_hook(con, staging, product, dt.date.today())
            if not _cleared_to_publish(con, product, run, staging, before_publish):
                return run
            with step("publish"):
                _ensure_bookkeeping(con)
                run.snapshot_id = lake.publish(
                    con,
                    product.domain,
                    product.id,
                    "staging.main.staged",
                    mode="replace",
                    commit_message=f"publish {product.ref}",
                    extra_info={"run_id": run.run_id, "source_snapshot": source_snapshot},
                    also=_history_statements(con, product, run),
                )
            run.rows_published = run.rows_read
            run.status = "published"
            return run
    finally:
        con.close()
