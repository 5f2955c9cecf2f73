"""Write–audit–publish for one product, independent of Dagster so it can be tested directly.

The Dagster asset (``pipelines.assets``) is a thin wrapper that turns a
:class:`ProductRun` into materialization metadata and asset-check results.
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

from pipelines import erasure_hook, loadlog, quarantine_zone
from pipelines.audit import privacy_gates
from pipelines.extracts import Extract, find_extracts
from pipelines.ingest import QUARANTINE_DDL, ingest
from pipelines.pseudonymise import build_staged, quarantine_duplicates, quarantine_invalid_cpr
from pipelines.register_names import register_names
from pipelines.row_rules import failing_predicate
from quality import history
from regionlab import lake
from regionlab.errors import UserError
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.results import CheckResult
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.spec.vocab import LoadMode

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
    path = settings.staging_dir / f"{product.domain}.{product.id}.duckdb"
    for stale in (path, path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    return path


def _select_extracts(
    con: duckdb.DuckDBPyConnection, settings: Settings, product: Product, full_refresh: bool
) -> tuple[list[Extract], bool]:
    """Extracts this run must load, and whether they replace the table."""
    assert product.source is not None
    found = find_extracts(settings.sources_dir, product)
    if not found:
        folder = settings.sources_dir / product.source.system / product.source.extract
        raise UserError(
            f"no extracts for {product.ref} in {folder} (run `regionlab synth` or "
            f"deliver files named {product.source.extract}_YYYY-MM-DD."
            f"{product.source.format.value})"
        )
    if product.source.load is LoadMode.replace:
        newest = found[-1]
        done = loadlog.loaded(con, product.ref)
        if not full_refresh and done.get(newest.name) == newest.fingerprint():
            return [], True
        return [newest], True
    if full_refresh:
        return found, True
    done = loadlog.loaded(con, product.ref)
    return [e for e in found if e.name not in done], False


def _history_statements(
    con: duckdb.DuckDBPyConnection, product: Product, run: ProductRun
) -> list[tuple[str, list[object]]]:
    """Statements appending this run's check results to the lake's quality history.

    ``snapshot_id`` is the snapshot the run started from: the published snapshot is
    not known inside its own transaction, and the run id links the two.
    """
    statements: list[tuple[str, list[object]]] = []
    if not history.exists(con):
        statements += [(ddl, []) for ddl in history.DDL]
    now = dt.datetime.now(dt.UTC)
    rows = history.history_rows(run.checks, product.ref, run.base_snapshot, run.run_id, now)
    return statements + [(history.INSERT, list(row)) for row in rows]


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


def _close_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Release the staging file so the quality layer (its own engine) can open it."""
    con.execute("USE memory")
    con.execute("DETACH staging")


def _apply_row_rules(con: duckdb.DuckDBPyConnection, product: Product, ref_date: dt.date) -> None:
    for rule in product.quality:
        if not getattr(rule, "quarantine", False):
            continue
        where = failing_predicate(rule, product, ref_date)
        if where is None:
            continue
        con.execute(
            f"INSERT INTO quarantine SELECT NULL, NULL, NULL, 'rule:{rule.id}', NULL, "
            f"to_json(staged)::VARCHAR FROM staged WHERE {where}"
        )
        con.execute(f"DELETE FROM staged WHERE {where}")


def _quarantine_known_keys(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    """In append mode a row key already in the lake is a re-delivered row, not a new one."""
    if not lake_table_exists(con, product.ref):
        return
    keys = " AND ".join(f'l."{k}" = s."{k}"' for k in product.row_key)
    where = f"EXISTS (SELECT 1 FROM lake.{product.table} l WHERE {keys})"
    con.execute(
        f"INSERT INTO quarantine SELECT NULL, NULL, NULL, 'duplicate_row', 'row key already "
        f"published', to_json(s)::VARCHAR FROM staged s WHERE {where}"
    )
    con.execute(f"DELETE FROM staged s WHERE {where}")


def lake_table_exists(con: duckdb.DuckDBPyConnection, ref: str) -> bool:
    domain, name = ref.split("/")
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name='lake' AND schema_name=? "
            "AND table_name=?",
            [domain, name],
        ).fetchone()[0]
    )


def run_source_product(
    product: Product,
    settings: Settings,
    *,
    full_refresh: bool = False,
    quality_hook: QualityHook | None = None,
    run_id: str | None = None,
    key: PseudonymKey | None = None,
    before_publish: Callable[[], None] | None = None,
) -> ProductRun:
    """Ingest new extracts, pseudonymise, audit in a staging file, publish in one transaction."""
    run = ProductRun(product=product.ref, run_id=run_id or uuid.uuid4().hex)
    needs_key = bool(product.source and product.source.person_column)
    key = key or (load_key() if needs_key else None)
    run.key_id = key.key_id if key else None
    con = lake.connect()
    cleanup: list[Path] = []
    try:
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
        quarantine_zone.store(settings, product.ref, staging, settings.sources_dir, run.run_id)
        if run.blocking_failures:
            run.status = "audit_failed"
            _record_failed_audit(con, product, run)
            return run
        (before_publish or fault_point)()
        con.execute(f"ATTACH '{staging}' AS staging (READ_ONLY)")
        run.snapshot_id = _publish(con, product, run, files, replace)
        run.rows_published = staged
        run.status = "published"
        return run
    finally:
        con.close()
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
    con.execute(f"ATTACH '{staging}' AS staging")
    con.execute("USE staging")
    run.rows_read = ingest(con, product, list(files)).rows_read
    quarantine_duplicates(con, product)
    if product.source and product.source.person_column:
        quarantine_invalid_cpr(con, product)
    names = register_names(settings.sources_dir)
    build_staged(con, product, key, names, ref_date)
    erasure_hook.quarantine_erased(con, product, key)
    _apply_row_rules(con, product, ref_date)
    if not replace:
        _quarantine_known_keys(con, product)
    run.quarantined.update(
        dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall())
    )
    run.checks = privacy_gates(con, product, names)
    staged = con.execute("SELECT count(*) FROM staged").fetchone()[0]
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
    loadlog.ensure(con)
    log_rows = [(product.ref, f.name, f.fingerprint(), f.date, run.run_id) for f in files]
    statements: list[tuple[str, list[object]]] = []
    if replace:
        statements.append((f"DELETE FROM {loadlog.TABLE} WHERE product = ?", [product.ref]))
    for ref, name, sha, date, rid in log_rows:
        statements.append(
            (
                f"INSERT INTO {loadlog.TABLE} VALUES (?, ?, ?, ?, NULL, ?, now())",
                [ref, name, sha, date, rid],
            )
        )
    statements += _history_statements(con, product, run)
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
    con = lake.connect()
    cleanup: list[Path] = []
    try:
        missing = [up for up in product.upstream if not lake_table_exists(con, up)]
        if missing:
            raise UserError(
                f"{product.ref} needs {', '.join(missing)} in the lake; run them first "
                f"(`regionlab run` runs upstreams before derived products)"
            )
        source_snapshot = run.base_snapshot = lake.current_snapshot(con)
        staging = _staging(settings, product)
        cleanup.append(staging)
        con.execute(f"ATTACH '{staging}' AS staging")
        con.execute(QUARANTINE_DDL.replace("quarantine", "staging.main.quarantine", 1))
        con.execute("USE lake")
        con.execute(f"CREATE TABLE staging.main.staged AS {product.derived.sql}")
        con.execute("USE staging")
        run.rows_read = con.execute("SELECT count(*) FROM staged").fetchone()[0]
        names = register_names(settings.sources_dir)
        run.checks = privacy_gates(con, product, names)
        _close_staging(con)
        if quality_hook is not None:
            run.checks += quality_hook(con, staging, product, dt.date.today())
        if run.blocking_failures:
            run.status = "audit_failed"
            _record_failed_audit(con, product, run)
            return run
        (before_publish or fault_point)()
        con.execute(f"ATTACH '{staging}' AS staging (READ_ONLY)")
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
