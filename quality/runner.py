"""Run GX expectations against a table in a DuckDB file, and keep only counts.

The audit step of write–audit–publish validates the staging DuckDB file. GX runs
the checks as SQL inside DuckDB (its SQLAlchemy path through duckdb_engine), so a
million-row table is never pulled into Python. What comes back is deliberately
poor: per expectation a status and counts, never row values, because outcomes
end up in Dagster, a quality-history table and DataHub, and a failing check must
not copy pseudonyms or clinical values there (see DESIGN.md, Quality).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import great_expectations as gx
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.datasource.fluent.interfaces import TestConnectionError
from pydantic import BaseModel, ConfigDict

from quality import gx_duckdb

Status = Literal["passed", "failed", "errored"]

# BASIC still reports element_count / unexpected_count / unexpected_percent
# (BOOLEAN_ONLY drops them). partial_unexpected_count=0 turns GX's "sample of
# failing values" query into LIMIT 0; exclude_unexpected_values and the two
# False flags make sure no value list or row frame is requested at all.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}

# Aggregate expectations whose observed_value is itself a row count (not a row
# value), so it may be reported as element_count.
_ROW_COUNT_EXPECTATIONS = frozenset(
    {"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"}
)

_MAX_ERROR_CHARS = 300


class ExpectationOutcome(BaseModel):
    """One expectation's result, stripped to what may leave the audit step.

    Never holds row values: no partial_unexpected_list, observed_value of a
    column aggregate, unexpected rows or SQL parameters.

    Counts follow GX: ``element_count`` is all rows (for table row-count
    expectations: the observed row count); ``unexpected_percent`` is over the
    non-null rows (``element_count - missing_count``), which is also what
    ``mostly`` is judged against. Aggregate
    expectations (e.g. a column max) report only status. ``errored`` means GX or
    DuckDB raised (missing column, bad regex, type clash); ``success`` is then
    False and ``error`` holds the scrubbed message.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    expectation_type: str
    columns: tuple[str, ...] = ()
    success: bool
    status: Status
    unexpected_count: int | None = None
    element_count: int | None = None
    unexpected_percent: float | None = None
    missing_count: int | None = None
    error: str | None = None


def validate_duckdb(
    db_path: Path,
    table: str,
    expectations: Sequence[gx.expectations.Expectation],
    *,
    suite_name: str,
) -> list[ExpectationOutcome]:
    """Validate ``table`` in the DuckDB file ``db_path``; outcomes in input order.

    One ephemeral GX context, one data source and one suite run per call, so
    GX bundles the aggregate metrics into as few queries as it can. GX opens the
    file read-only (an audit must not write), so close your own connections to
    it first: DuckDB refuses a second in-process connection with a different
    configuration. GX's engines are disposed before returning, so the file can
    be reopened read-write straight away.

    Raises FileNotFoundError / LookupError / RuntimeError (never a per-expectation
    problem: those come back as ``errored`` outcomes) when the file is missing,
    the table is missing, or the file cannot be opened.
    """
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"DuckDB file to validate does not exist: {db_path}")
    if not expectations:
        return []
    gx_duckdb.install()

    run_key = uuid.uuid4().hex[:8]
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    with _gx_logs_silenced():
        try:
            data_source = context.data_sources.add_sql(  # type: ignore[call-arg]
                name=f"duckdb_{run_key}",
                connection_string=f"duckdb:///{db_path.resolve()}",
                kwargs={"connect_args": {"read_only": True}},
            )
        except TestConnectionError as exc:
            raise RuntimeError(
                f"Cannot open {db_path} for validation ({_root_cause(exc)}); "
                "close other connections to the file in this process first."
            ) from None
    try:
        with _gx_logs_silenced():
            try:
                asset = data_source.add_table_asset(name=table, table_name=table)
            except TestConnectionError:
                raise LookupError(f"Table {table!r} not found in {db_path}") from None
            batch_definition = asset.add_batch_definition_whole_table(name="whole_table")
            suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
            ids = [_add(suite, e) for e in expectations]
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=f"{suite_name}_{run_key}", data=batch_definition, suite=suite
                )
            )
            result = validation.run(result_format=RESULT_FORMAT)
    finally:
        _dispose(data_source)

    by_id = {r.expectation_config.id: r for r in result.results if r.expectation_config}
    allowed = {table, *(c for e in expectations for c in _columns(e))}
    return [_outcome(e, by_id.get(i), allowed) for e, i in zip(expectations, ids, strict=True)]


def _add(suite: gx.ExpectationSuite, expectation: gx.expectations.Expectation) -> str | None:
    """Add a copy, so callers' expectation objects stay reusable across runs."""
    return suite.add_expectation(expectation.copy(update={"id": None})).id


def _outcome(
    expectation: gx.expectations.Expectation,
    result: Any,
    allowed_words: set[str],
) -> ExpectationOutcome:
    kind = expectation.expectation_type
    columns = _columns(expectation)
    if result is None:
        return ExpectationOutcome(
            expectation_type=kind,
            columns=columns,
            success=False,
            status="errored",
            error="GX returned no result for this expectation",
        )
    error = _error_message(result.exception_info)
    if error is not None:
        return ExpectationOutcome(
            expectation_type=kind,
            columns=columns,
            success=False,
            status="errored",
            error=scrub(error, allowed_words),
        )
    details = result.result or {}
    element_count = details.get("element_count")
    if kind in _ROW_COUNT_EXPECTATIONS:
        element_count = details.get("observed_value")
    success = bool(result.success)
    return ExpectationOutcome(
        expectation_type=kind,
        columns=columns,
        success=success,
        status="passed" if success else "failed",
        unexpected_count=_int_or_none(details.get("unexpected_count")),
        element_count=_int_or_none(element_count),
        unexpected_percent=_float_or_none(details.get("unexpected_percent")),
        missing_count=_int_or_none(details.get("missing_count")),
    )


def _columns(expectation: gx.expectations.Expectation) -> tuple[str, ...]:
    kwargs = expectation.configuration.kwargs
    if kwargs.get("column"):
        return (kwargs["column"],)
    if kwargs.get("column_A") or kwargs.get("column_B"):
        return tuple(c for c in (kwargs.get("column_A"), kwargs.get("column_B")) if c)
    return tuple(kwargs.get("column_list") or ())


def _error_message(exception_info: Any) -> str | None:
    """The first raised exception's message, in either shape GX uses.

    Expectation-level errors: ``{"raised_exception": True, "exception_message": ...}``.
    Metric-resolution errors: ``{<metric id>: {"raised_exception": True, ...}, ...}``.
    """
    if not exception_info:
        return None
    candidates = [exception_info, *(v for v in exception_info.values() if isinstance(v, dict))]
    for info in candidates:
        if info.get("raised_exception"):
            return str(info.get("exception_message") or "GX raised an exception")
    return None


_SQL_TAIL = re.compile(r"\[(SQL|parameters):.*", re.DOTALL)
_QUOTED = re.compile(r"('([^']*)'|\"([^\"]*)\")")
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{12,}\b")
_LONG_NUMBER = re.compile(r"\d[\d\-\s.,:/]{4,}\d")


def scrub(message: str, allowed_words: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """Remove anything from an error message that could be a row value.

    Defence in depth: DuckDB errors quote offending values (``Could not convert
    string '0101011234' to INT32``) and SQLAlchemy appends SQL and parameters.
    Quoted text survives only if it is a known table or column name.
    """
    text = _SQL_TAIL.sub("", message)
    text = " ".join(text.split())

    def quoted(match: re.Match[str]) -> str:
        inner = match.group(2) if match.group(2) is not None else match.group(3)
        return match.group(0) if inner in allowed_words else "<value>"

    text = _QUOTED.sub(quoted, text)
    text = _LONG_HEX.sub("<value>", text)
    text = _LONG_NUMBER.sub("<number>", text)
    if len(text) > _MAX_ERROR_CHARS:
        text = text[: _MAX_ERROR_CHARS - 1] + "…"
    return text


@contextlib.contextmanager
def _gx_logs_silenced() -> Iterator[None]:
    """Keep GX's own log lines out while it runs.

    GX logs failed SQL with the database's error text, which can quote row
    values; errors reach callers through scrubbed outcomes instead.
    """
    gx_logger = logging.getLogger("great_expectations")
    previous = gx_logger.level
    gx_logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        gx_logger.setLevel(previous)


def _dispose(data_source: Any) -> None:
    """Close every pooled DuckDB connection GX opened, so the file lock is released.

    GX keeps two SQLAlchemy engines: the data source's (used to inspect the
    table) and the execution engine's (used to run metrics).
    """
    with contextlib.suppress(Exception):
        data_source.get_execution_engine().close()
    with contextlib.suppress(Exception):
        data_source.get_engine().dispose()


def _root_cause(exc: BaseException) -> str:
    """The database driver's own message (a connection error: no row values)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    exc = getattr(exc, "orig", None) or exc
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
