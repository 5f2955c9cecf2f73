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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.errors import UserError
from regionlab.platform import lake_key
from regionlab.platform.tables import QUALITY_HISTORY, product_table_exists, quality_history_rows
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.results import CheckResult
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.spec.vocab import LoadMode
from regionlab.sql import quote_ident, quote_literal
from regionlab.steps import step
from regionlab.wap import erasure_hook, load_log, quarantine_zone
from regionlab.wap.privacy_gates import privacy_gates
from regionlab.wap.pseudonymise import build_staged, quarantine_duplicates, quarantine_invalid_cpr
from regionlab.wap.register_names import register_names
from regionlab.wap.sources import QUARANTINE_DDL, Extract, ingest, reader_for

#: Hook the quality layer fills: (connection with `staged`, product, reference date) → results.
QualityHook = Callable[[duckdb.DuckDBPyConnection, Path, Product, dt.date], list[CheckResult]]


@dataclass
class ProductRun:
    product: str
    status: str = "up_to_date"  # published | up_to_date | audit_failed
    rows_read: int = 0
    rows_published: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    snapshot_id: int | None = None
    key_id: str | None = None
    extracts: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    run_id: str = ""
    base_snapshot: int | None = None

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocks]

    def summary(self) -> str:
        return (
            f"{self.product}: {self.status}, {self.rows_published} published, "
            f"{self.quarantined.total()} quarantined"
        )


def fault_point() -> None:
    """Fault injection for the crash-safety test: pause between audit and publish.

    When ``REGIONLAB_FAULT_PAUSE_BEFORE_PUBLISH`` names a file, the run writes it
    and sleeps, so a test can kill the process at exactly this point.
    """
    marker = os.environ.get("REGIONLAB_FAULT_PAUSE_BEFORE_PUBLISH")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(600)


def _remove_staging(paths: Sequence[Path]) -> None:
    """The staging file holds the raw extract (CPR numbers included): never leave it behind."""
    for path in paths:
        for stale in (path, path.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)


def _staging(settings: Settings, product: Product) -> Path:
    settings.staging_dir.mkdir(parents=True, exist_ok=True)
    path = settings.staging_file(product.domain, product.id)
    for stale in (path, path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    return path


def _select_extracts(
    con: duckdb.DuckDBPyConnection, settings: Settings, product: Product, full_refresh: bool
) -> tuple[list[Extract], bool]:
    """Extracts this run must load, and whether they replace the table."""
    assert product.source is not None
    reader = reader_for(product)
    found = reader.discover(settings.sources_dir, product)
    if not found:
        where = reader.expected_location(settings.sources_dir, product)
        raise UserError(
            f"no extracts for {product.ref} in {where}; run `regionlab synth` or deliver them"
        )
    if product.source.load is LoadMode.replace:
        newest = found[-1]
        done = load_log.loaded(con, product.ref)
        if not full_refresh and done.get(newest.name) == reader.fingerprint(newest):
            return [], True
        return [newest], True
    if full_refresh:
        return found, True
    done = load_log.loaded(con, product.ref)
    return [e for e in found if e.name not in done], False


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
    with lake.write_lock(con, "lake"):
        con.execute("BEGIN TRANSACTION")
        for sql, params in _history_statements(con, product, run):
            con.execute(sql, params)
        con.execute(
            "CALL ducklake_set_commit_message('lake', 'regionlab', ?, extra_info => ?)",
            [
                f"audit failed for {product.ref}; nothing published",
                json.dumps({"run_id": run.run_id, "product": product.ref, "audit": "failed"}),
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


def _apply_row_rules(con: duckdb.DuckDBPyConnection, product: Product, ref_date: dt.date) -> None:
    for rule in product.quality:
        if not getattr(rule, "quarantine", False):
            continue
        where = rule.row_predicate(product, ref_date)
        if where is None:
            continue
        con.execute(
            f"INSERT INTO quarantine SELECT NULL, NULL, NULL, 'rule:{rule.id}', NULL, "
            f"to_json(staged)::VARCHAR FROM staged WHERE {where}"
        )
        con.execute(f"DELETE FROM staged WHERE {where}")


def _quarantine_known_keys(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    """In append mode a row key already in the lake is a re-delivered row, not a new one."""
    if not product_table_exists(con, product.ref):
        return
    keys = " AND ".join(f"l.{quote_ident(k)} = s.{quote_ident(k)}" for k in product.row_key)
    where = f"EXISTS (SELECT 1 FROM lake.{product.table} l WHERE {keys})"
    con.execute(
        f"INSERT INTO quarantine SELECT NULL, NULL, NULL, 'duplicate_row', 'row key already "
        f"published', to_json(s)::VARCHAR FROM staged s WHERE {where}"
    )
    con.execute(f"DELETE FROM staged s WHERE {where}")


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
) -> ProductRun:
    """Ingest new extracts, pseudonymise, audit in a staging file, publish in one transaction.

    ``keep_staging`` leaves the staging file (raw rows, CPR numbers included) for the
    benchmark's GX-vs-SQL comparison, which deletes it; nothing else should keep it.
    """
    run = ProductRun(product=product.ref, run_id=run_id or uuid.uuid4().hex)
    needs_key = bool(product.source and product.source.person_column)
    key = key or (load_key() if needs_key else None)
    run.key_id = key.key_id if key else None
    with step("lake_connect"):
        con = lake.connect()
    cleanup: list[Path] = []
    try:
        if key is not None:  # never mix person keys of two keys in one lake
            lake_key.check_key(con, key.key_id)
        with step("select_extracts"):
            files, replace = _select_extracts(con, settings, product, full_refresh)
        if not files:
            return run
        run.base_snapshot = lake.current_snapshot(con)
        run.extracts = [f.name for f in files]
        ref_date = max(f.date for f in files)
        staging = _staging(settings, product)
        cleanup.append(staging)
        staged = _stage(con, staging, settings, product, files, key, run, replace, ref_date)
        if quality_hook is not None:
            run.checks += quality_hook(con, staging, product, ref_date)
        with step("quarantine_zone"):
            quarantine_zone.store(settings, product.ref, staging, settings.sources_dir, run.run_id)
        if not _cleared_to_publish(con, product, run, staging, before_publish):
            return run
        with step("publish"):
            run.snapshot_id = _publish(con, product, run, files, replace)
        run.rows_published = staged
        run.status = "published"
        return run
    finally:
        con.close()
        if not keep_staging:
            _remove_staging(cleanup)


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
        build_staged(con, product, key, names, ref_date)
    with step("quarantine"):
        erasure_hook.quarantine_erased(con, product, key)
        _apply_row_rules(con, product, ref_date)
        if not replace:
            _quarantine_known_keys(con, product)
    run.quarantined.update(
        dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall())
    )
    with step("audit_privacy"):
        run.checks = privacy_gates(con, product, names)
    staged = con.execute("SELECT count(*) FROM staged").fetchone()[0]
    with step("staging_checkpoint"):
        _close_staging(con)
    if staged + run.quarantined.total() != run.rows_read:
        raise RuntimeError(
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
    reader = reader_for(product)
    log_rows = [(f.name, reader.fingerprint(f), f.date, run.run_id) for f in files]
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
        },
        also=statements,
    )


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
    with step("lake_connect"):
        con = lake.connect()
    cleanup: list[Path] = []
    try:
        missing = [up for up in product.upstream if not product_table_exists(con, up)]
        if missing:
            raise UserError(
                f"{product.ref} needs {', '.join(missing)} in the lake; run them first "
                f"(`regionlab run` runs upstreams before derived products)"
            )
        source_snapshot = run.base_snapshot = lake.current_snapshot(con)
        staging = _staging(settings, product)
        cleanup.append(staging)
        con.execute(f"ATTACH {quote_literal(str(staging))} AS staging")
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
        _remove_staging(cleanup)
