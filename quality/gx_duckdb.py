"""Teach Great Expectations 1.24 to run its SQL path on DuckDB (via duckdb_engine).

GX has no DuckDB support; out of the box two things break, and this module fixes
both by patching GX in place. Call :func:`install` before building a GX context;
it is idempotent.

1. Results vanish before GX reads them.
   ``SqlAlchemyExecutionEngine.execute_query`` runs the query inside
   ``with engine.connect()`` and returns the cursor result *after* the block has
   closed the connection. Returning a connection to the pool issues a rollback,
   and on a DuckDB connection any new statement discards the pending result set,
   so ``fetchall()`` silently returns ``[]``. Every metric then fails with
   ``IndexError: list index out of range`` in ``resolve_metric_bundle``.
   Fix: for DuckDB engines, buffer the rows (``Result.freeze()``) while the
   connection is still open. Only aggregates and ``LIMIT``-ed lists flow through
   here when the runner's result format is used, so buffering is cheap.
   GX issues: https://github.com/great-expectations/great_expectations/issues/10738
   and https://github.com/great-expectations/great_expectations/issues/11579

2. No dialect module, hence no regex.
   GX picks a "dialect module" per engine to build dialect-specific SQL; for
   ``duckdb`` it picks none, and regex expectations raise "Regex is not supported
   for dialect". duckdb_engine's dialect subclasses SQLAlchemy's PostgreSQL
   dialect, so we hand GX the PostgreSQL dialect module (types, LIKE, ...) with
   duckdb_engine's dialect class in it. One trap: GX emits PostgreSQL's ``~`` for
   regexes, but in DuckDB ``~`` means *full* match (``regexp_full_match``), while
   GX's semantics (pandas ``str.contains``, PostgreSQL ``~``) are *search*. So for
   DuckDB regexes we emit ``regexp_matches(col, pattern)``, which searches.
   Patterns use DuckDB's RE2 syntax (no look-around, no back-references).

Also, not a GX bug: DuckDB's own progress bar is switched off on each new DuckDB
connection of SQLAlchemy (it would print between ``regionlab run``'s progress lines).

GX is pinned in pyproject.toml to :data:`TESTED_GX_VERSION`; the tests in
``tests/quality/test_gx_duckdb.py`` fail loudly if an upgrade changes what this
shim relies on.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

import duckdb_engine
import great_expectations
import sqlalchemy as sa
import sqlalchemy.dialects.postgresql as pg_dialect_module
from great_expectations.execution_engine import sqlalchemy_execution_engine as gx_sql_engine
from great_expectations.expectations.metrics import util as gx_metric_util

TESTED_GX_VERSION = "1.24.1"
"""The GX release this shim was written and tested against (pinned in pyproject)."""

DUCKDB_DIALECT_NAME = "duckdb"

_MARKER = "_regionlab_duckdb_shim_installed"

# GX modules that bind ``get_dialect_regex_expression`` by name at import time
# (``from ...util import get_dialect_regex_expression``); patching ``util`` alone
# would not reach them. ``install`` also scans every loaded GX module.
_REGEX_CALLER_MODULES = (
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex_list",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex_list",
    "great_expectations.expectations.metrics.column_aggregate_metrics.column_values_match_regex_values",
    "great_expectations.expectations.metrics.column_aggregate_metrics.column_values_not_match_regex_values",
)


class _DuckDBDialectModule(types.ModuleType):
    """The PostgreSQL dialect module, except that ``dialect`` is duckdb_engine's.

    A distinct object (not the PostgreSQL module itself) so the regex override
    can tell DuckDB apart from a real PostgreSQL engine.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(pg_dialect_module, name)


DUCKDB_DIALECT_MODULE = _DuckDBDialectModule("regionlab_gx_duckdb_dialect")
DUCKDB_DIALECT_MODULE.dialect = duckdb_engine.Dialect  # type: ignore[attr-defined]


def is_duckdb_dialect(dialect: object) -> bool:
    """True for the dialect module the shim gives DuckDB engines."""
    return dialect is DUCKDB_DIALECT_MODULE


def _duckdb_regex_expression(
    original: Callable[..., Any],
) -> Callable[..., Any]:
    def get_dialect_regex_expression(
        column: Any, regex: str, dialect: Any, positive: bool = True
    ) -> Any:
        if not is_duckdb_dialect(dialect):
            return original(column, regex, dialect, positive)
        matches = sa.func.regexp_matches(column, sa.literal(regex))
        return matches if positive else sa.not_(matches)

    get_dialect_regex_expression._regionlab_original = original  # type: ignore[attr-defined]
    return get_dialect_regex_expression


def _buffering_execute_query(original: Callable[..., Any]) -> Callable[..., Any]:
    def execute_query(self: Any, query: Any) -> Any:
        if self.dialect_name != DUCKDB_DIALECT_NAME:
            return original(self, query)
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            # Read the rows while the connection is open (see module docstring, 1.).
            return result.freeze()() if result.returns_rows else result

    execute_query._regionlab_original = original  # type: ignore[attr-defined]
    return execute_query


def _init_with_duckdb_dialect(original: Callable[..., Any]) -> Callable[..., Any]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.dialect_name == DUCKDB_DIALECT_NAME and self.dialect_module is None:
            self.dialect_module = DUCKDB_DIALECT_MODULE

    __init__._regionlab_original = original  # type: ignore[attr-defined]
    return __init__


def install() -> None:
    """Patch GX so its SQLAlchemy execution engine works on DuckDB. Idempotent.

    Raises RuntimeError if GX is not the version the shim was tested against, so
    an upgrade cannot silently run a shim written for other internals.
    """
    engine_cls = gx_sql_engine.SqlAlchemyExecutionEngine
    if getattr(engine_cls, _MARKER, False):
        return
    if great_expectations.__version__ != TESTED_GX_VERSION:
        raise RuntimeError(
            f"quality/gx_duckdb.py was tested against great-expectations "
            f"{TESTED_GX_VERSION}, found {great_expectations.__version__}: re-run "
            "tests/quality/test_gx_duckdb.py and update TESTED_GX_VERSION."
        )

    engine_cls.execute_query = _buffering_execute_query(engine_cls.execute_query)  # type: ignore[method-assign]
    engine_cls.__init__ = _init_with_duckdb_dialect(engine_cls.__init__)  # type: ignore[method-assign]

    original_regex = gx_metric_util.get_dialect_regex_expression
    patched_regex = _duckdb_regex_expression(original_regex)
    for name in _REGEX_CALLER_MODULES:
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        if name.startswith("great_expectations") and (
            getattr(module, "get_dialect_regex_expression", None) is original_regex
        ):
            module.get_dialect_regex_expression = patched_regex  # type: ignore[attr-defined]

    sa.event.listen(sa.engine.Engine, "connect", _no_progress_bar)
    setattr(engine_cls, _MARKER, True)


def _no_progress_bar(dbapi_connection: Any, _record: Any) -> None:
    """DuckDB draws its own progress bar on stdout for queries over 2 s.

    At region scale GX's column metrics take that long, and the bars land between
    ``regionlab run``'s own progress lines and in every log. It is a per-connection
    setting (DuckDB refuses it in the ``config`` of ``connect_args``), so it is set on
    each new DuckDB connection; other databases are left alone.
    """
    if type(dbapi_connection).__module__.startswith("duckdb_engine"):
        dbapi_connection.execute("SET enable_progress_bar = false")


def unpatched_regex_callers() -> list[str]:
    """Loaded GX modules still bound to GX's own regex builder (should be empty).

    Used by the tests to notice a GX upgrade that adds a new regex call site.
    """
    patched = gx_metric_util.get_dialect_regex_expression
    original = getattr(patched, "_regionlab_original", patched)
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith("great_expectations")
        and getattr(module, "get_dialect_regex_expression", None) is original
    )
