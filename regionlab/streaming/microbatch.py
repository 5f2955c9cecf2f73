"""Write–audit–publish of one micro-batch of a streaming product.

The same steps as a batch delivery (:mod:`regionlab.wap.engine`), on the events
of a second or so, in a staging DuckDB file:

1. messages already in the lake's stream log (a redelivery after a crash between
   commit and acknowledgement) are skipped — they are acknowledged, not reloaded;
2. each message is validated as a FHIR resource and read into the spec's source
   columns; what fails is quarantined with a value-free reason;
3. invalid CPR numbers, exact copies and events already published (same event id)
   are quarantined; the person key, the column rules and free-text scrubbing are
   applied by the batch path's own :func:`~regionlab.wap.pseudonymise.build_staged`;
4. erased persons' events are quarantined without their values (the suppression
   list, :mod:`regionlab.wap.erasure_hook`);
5. each rule with a row predicate is judged per event (a failing event of a
   blocking rule is quarantined, a warning is counted) and each text column is
   scanned per event with the identifier gate's rules (an event holding an
   identifier is quarantined); then the batch path's privacy gates run on what is
   left, and if they still block, the whole micro-batch is quarantined;
6. the quarantine goes to the quarantine zone, and the rows, the stream log (one
   row per message: published, quarantined or duplicate), the quality history
   and the batch's freshness are published in ONE lake transaction.

The caller acknowledges the messages only after this returns.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from regionlab import lake
from regionlab.platform import lake_key
from regionlab.platform.names import DELIVERY_COLUMN
from regionlab.platform.tables import QUALITY_HISTORY, product_table_exists, quality_history_rows
from regionlab.privacy import scrub
from regionlab.privacy.keys import PseudonymKey
from regionlab.results import CheckResult, Status
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.spec.vocab import Classification, ColumnType, Severity
from regionlab.sql import quote_ident, quote_literal
from regionlab.streaming.fhir_rows import parse
from regionlab.streaming.tables import FRESHNESS_CHECK, STREAM_BATCHES, STREAM_LOG
from regionlab.wap import erasure_hook, quarantine_zone
from regionlab.wap.privacy_gates import privacy_gates
from regionlab.wap.pseudonymise import build_staged, quarantine_duplicates, quarantine_invalid_cpr
from regionlab.wap.register_names import Register
from regionlab.wap.safe_errors import ReconciliationError
from regionlab.wap.sources import QUARANTINE_DDL
from regionlab.wap.staging import protect, staging_file


@dataclass(frozen=True)
class Message:
    """One broker message as the consumer received it."""

    tag: int
    message_id: str
    body: bytes
    received_at: float = field(default_factory=time.time)


@dataclass
class BatchResult:
    product: str
    batch_id: str
    received: int = 0
    skipped: int = 0  # already in the lake (redelivered after a commit)
    published: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    snapshot_id: int | None = None
    checks: list[CheckResult] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)  # seconds, event time → committed
    committed_at: dt.datetime | None = None

    def lag(self, pct: float) -> float | None:
        if not self.lags:
            return None
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def already_logged(
    con: duckdb.DuckDBPyConnection, product: Product, ids: Sequence[str]
) -> set[str]:
    """Message ids of ``ids`` the lake's stream log already has (committed before)."""
    if not ids or not STREAM_LOG.exists(con):
        return set()
    rows = con.execute(
        f"SELECT message_id FROM {STREAM_LOG.qualified} WHERE product = ? "
        "AND message_id IN (SELECT unnest(?::VARCHAR[]))",
        [product.ref, list(ids)],
    ).fetchall()
    return {r[0] for r in rows}


def _raw_table(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    cols = ", ".join(f"{quote_ident(c.name)} {c.type.duckdb}" for c in product.columns)
    con.execute(f"CREATE TABLE raw (_extract VARCHAR, {cols})")
    con.execute(QUARANTINE_DDL)


def _load(con: duckdb.DuckDBPyConnection, product: Product, messages: Sequence[Message]) -> None:
    """Rows into ``raw``; messages that are no resource of the product into ``quarantine``."""
    names = [c.name for c in product.columns]
    rows, bad = [], []
    for m in messages:
        parsed = parse(product, m.body)
        if parsed.row is None:
            bad.append((m.message_id, None, None, parsed.reason, parsed.detail,
                        m.body.decode("utf-8", "replace")))  # fmt: skip
        else:
            rows.append([m.message_id, *(parsed.row[n] for n in names)])
    if rows:  # one Arrow insert: executemany costs a statement per row
        columns = ["_extract", *names]
        table = pa.table(
            {c: [None if r[i] is None else str(r[i]) for r in rows] for i, c in enumerate(columns)},
            schema=pa.schema([(c, pa.string()) for c in columns]),
        )
        con.register("__rl_events", table)
        try:
            con.execute("INSERT INTO raw BY NAME SELECT * FROM __rl_events")
        finally:
            con.unregister("__rl_events")
    if bad:
        con.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)", bad)


def _move(con: duckdb.DuckDBPyConnection, where: str, reason: str, detail: str | None) -> int:
    n = con.execute(f"SELECT count(*) FROM staged WHERE {where}").fetchone()[0]
    if n:
        con.execute(
            f"INSERT INTO quarantine SELECT {quote_ident(DELIVERY_COLUMN)}, NULL, NULL, ?, ?, "
            f"to_json(staged)::VARCHAR FROM staged WHERE {where}",
            [reason, detail],
        )
        con.execute(f"DELETE FROM staged WHERE {where}")
    return int(n)


def _known_events(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    """An event id already published is a duplicate of an event, not a new one."""
    if not product_table_exists(con, product.ref):
        return
    keys = " AND ".join(f"l.{quote_ident(k)} = s.{quote_ident(k)}" for k in product.row_key)
    where = f"EXISTS (SELECT 1 FROM lake.{product.table} l WHERE {keys})"
    _move(con, where.replace(" s.", " staged."), "duplicate_event", "event id already published")


def _per_event_rules(
    con: duckdb.DuckDBPyConnection, product: Product, day: dt.date
) -> list[CheckResult]:
    """Each rule judged per event: blocking rules quarantine, warnings count."""
    results = []
    for rule in product.quality:
        where = rule.row_predicate(product, day)
        if where is None:
            continue
        total = con.execute("SELECT count(*) FROM staged").fetchone()[0]
        if rule.severity is Severity.blocking:
            failing = _move(con, f"({where})", f"rule:{rule.id}", None)
        else:
            failing = con.execute(f"SELECT count(*) FROM staged WHERE {where}").fetchone()[0]
        allowed = rule.threshold * total
        results.append(
            CheckResult(
                check=rule.id,
                category=rule.kahn.value,
                severity=rule.severity.value,
                status=Status.passed if failing <= allowed else Status.failed,
                description=rule.description or rule.default_description(),
                unexpected_count=int(failing),
                element_count=int(total),
                detail="failing events quarantined"
                if rule.severity is Severity.blocking and failing
                else "",
            )
        )
    return results


def _identifiers_per_event(
    con: duckdb.DuckDBPyConnection, product: Product, register: Register
) -> None:
    """Events whose text holds an identifier the scrubber removes: quarantined, per kind."""
    texts = [
        c.name
        for c in product.published_columns
        if c.type is ColumnType.varchar and c.classification is not Classification.pseudonym
    ]
    hits = [
        (test, f"{column}: {kind}")
        for column in texts
        for kind, test in scrub.identifier_tests_sql(quote_ident(column), register.names).items()
        if test != "false"
    ]
    if not hits:
        return
    # One pass over the batch, each test evaluated once (the register names make them
    # costly); each event's hits are then named by column and kind (never a value).
    tests = ", ".join(f"coalesce({test}, false)" for test, _ in hits)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __rl_id_flags AS SELECT rowid AS rid, [{tests}] AS f "
            "FROM staged"
        )
    except duckdb.Error as exc:  # DuckDB may quote the statement, which holds register names
        raise RuntimeError(f"identifier tests failed ({type(exc).__name__})") from None
    detail = ", ".join(
        f"CASE WHEN f[{i}] THEN {quote_literal(name)} END" for i, (_, name) in enumerate(hits, 1)
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __rl_id_hits AS SELECT rid, concat_ws('; ', {detail}) "
        "AS detail FROM temp.main.__rl_id_flags WHERE list_bool_or(f)"
    )
    con.execute(
        f"INSERT INTO quarantine SELECT s.{quote_ident(DELIVERY_COLUMN)}, NULL, NULL, "
        "'identifier_in_text', h.detail, to_json(s)::VARCHAR FROM staged s "
        "JOIN temp.main.__rl_id_hits h ON s.rowid = h.rid"
    )
    con.execute("DELETE FROM staged WHERE rowid IN (SELECT rid FROM temp.main.__rl_id_hits)")


def _stage(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    key: PseudonymKey,
    register: Register,
    messages: Sequence[Message],
    result: BatchResult,
) -> int:
    day = dt.datetime.now(dt.UTC).date()
    _raw_table(con, product)
    _load(con, product, messages)
    quarantine_duplicates(con, product)
    quarantine_invalid_cpr(con, product)
    build_staged(con, product, key, register, day, "_extract")
    erasure_hook.quarantine_erased(con, product, key)
    _known_events(con, product)
    result.checks = _per_event_rules(con, product, day)
    _identifiers_per_event(con, product, register)
    gates = privacy_gates(con, product, register)
    if any(c.blocks for c in gates):  # left after the per-event quarantine: stop the batch
        _move(con, "true", "batch_audit_failed", ", ".join(c.check for c in gates if c.blocks))
        gates = privacy_gates(con, product, register)
    result.checks += gates
    result.quarantined.update(
        dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall())
    )
    staged = int(con.execute("SELECT count(*) FROM staged").fetchone()[0])
    if staged + result.quarantined.total() != len(messages):
        raise ReconciliationError(
            f"reconciliation failed for {product.ref}: received {len(messages)}, "
            f"staged {staged}, quarantined {result.quarantined.total()}"
        )
    return staged


def _log_statements(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    result: BatchResult,
    outcomes: dict[str, tuple[str, str | None]],
    now: dt.datetime,
) -> list[tuple[str, list[object]]]:
    rows = [
        (product.ref, message_id, outcome, reason, result.batch_id, now)
        for message_id, (outcome, reason) in outcomes.items()
    ]
    out = STREAM_LOG.create_statements(con)
    if rows:
        values = ", ".join("(?, ?, ?, ?, ?, ?)" for _ in rows)
        out.append((f"INSERT INTO {STREAM_LOG.qualified} VALUES {values}",
                    [v for r in rows for v in r]))  # fmt: skip
    return out


def _freshness(product: Product, result: BatchResult) -> CheckResult:
    objective = product.stream.freshness if product.stream else None
    assert objective is not None
    over = sum(1 for lag in result.lags if lag > objective.max_lag_seconds)
    allowed = (100 - objective.percentile) / 100 * len(result.lags)
    p = result.lag(objective.percentile)
    return CheckResult(
        check=FRESHNESS_CHECK,
        category="timeliness",
        severity="warning",
        status=Status.passed if over <= allowed else Status.failed,
        description=(
            f"{objective.percentile} % of events queryable within "
            f"{objective.max_lag_seconds:g} s of their event time."
        ),
        unexpected_count=over,
        element_count=len(result.lags),
        detail=f"p{objective.percentile} lag {p:.2f} s" if p is not None else "no events",
    )


def _event_times(con: duckdb.DuckDBPyConnection, product: Product) -> list[dt.datetime]:
    assert product.stream is not None
    column = quote_ident(product.stream.event_time_column)
    return [r[0] for r in con.execute(f"SELECT {column} FROM staged").fetchall() if r[0]]


def process_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    product: Product,
    key: PseudonymKey,
    register: Register,
    messages: Sequence[Message],
    before_commit: Callable[[], None] | None = None,
) -> BatchResult:
    """Audit and publish ``messages``; every one ends published, quarantined or skipped.

    ``con`` is a read-write lake connection (reused across batches). Returns once the
    lake has committed; only then may the caller acknowledge the messages.
    """
    result = BatchResult(product=product.ref, batch_id=uuid.uuid4().hex)
    seen: set[str] = set()
    fresh: list[Message] = []
    done = already_logged(con, product, [m.message_id for m in messages])
    for m in messages:  # a message id twice in one batch is a broker redelivery
        if m.message_id in done or m.message_id in seen:
            result.skipped += 1
            continue
        seen.add(m.message_id)
        fresh.append(m)
    result.received = len(fresh)
    if not fresh:
        return result
    lake_key.check_key(con, key.key_id)
    with staging_file(settings, product.domain, product.id) as staging:
        con.execute(f"ATTACH {quote_literal(str(staging))} AS staging")
        protect(staging)
        con.execute("USE staging")
        try:
            staged = _stage(con, product, key, register, fresh, result)
            outcomes: dict[str, tuple[str, str | None]] = {
                m.message_id: ("published", None) for m in fresh
            }
            for message_id, reason in con.execute(
                "SELECT extract, reason FROM quarantine"
            ).fetchall():
                outcomes[message_id] = ("quarantined", reason)
            times = _event_times(con, product)
        finally:
            con.execute("USE memory")
            con.execute("DETACH staging")
        quarantine_zone.store(
            settings, product.ref, staging, settings.sources_dir, result.batch_id,
            replacing=[m.message_id for m in fresh],
        )  # fmt: skip
        if before_commit is not None:
            before_commit()
        con.execute(f"ATTACH {quote_literal(str(staging))} AS staging (READ_ONLY)")
        try:
            result.snapshot_id = _publish(con, product, key, result, outcomes, times, staged)
        finally:
            con.execute("DETACH staging")
    result.published = staged
    return result


def _publish(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    key: PseudonymKey,
    result: BatchResult,
    outcomes: dict[str, tuple[str, str | None]],
    times: list[dt.datetime],
    staged: int,
) -> int:
    """One transaction: the rows, the stream log, the quality history, the batch's lag."""
    now = dt.datetime.now(dt.UTC)
    naive_now = now.replace(tzinfo=None)
    result.lags = [max(0.0, (naive_now - t).total_seconds()) for t in times]
    result.checks.append(_freshness(product, result))
    base = lake.current_snapshot(con)
    statements = _log_statements(con, product, result, outcomes, now)
    statements += QUALITY_HISTORY.create_statements(con) + [
        (QUALITY_HISTORY.insert, list(r))
        for r in quality_history_rows(result.checks, product.ref, base, result.batch_id, now)
    ]
    statements += STREAM_BATCHES.create_statements(con) + [
        (STREAM_BATCHES.insert, [
            product.ref, result.batch_id, result.received, staged,
            result.quarantined.total(), result.skipped, min(times, default=None),
            max(times, default=None), _ms(result.lag(50)), _ms(result.lag(95)),
            _ms(max(result.lags, default=None)), now,
        ])
    ]  # fmt: skip
    statements += lake_key.register_statements(con, key.key_id, result.batch_id)
    snapshot = lake.publish(
        con,
        product.domain,
        product.id,
        "staging.main.staged",
        mode="append",
        commit_message=f"stream micro-batch of {product.ref}",
        extra_info={
            "stream": "micro_batch",  # kind stays "publish": the catalogue reads it
            "batch_id": result.batch_id,
            "key_id": key.key_id,
            "messages": result.received,
            "quarantined": json.dumps(dict(result.quarantined)),
        },
        also=statements,
    )
    result.committed_at = dt.datetime.now(dt.UTC)
    done = result.committed_at.replace(tzinfo=None)
    result.lags = [max(0.0, (done - t).total_seconds()) for t in times]  # as committed
    return snapshot


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1000))


def staging_path(settings: Settings, product: Product) -> Path:
    return settings.staging_file(product.domain, product.id)
