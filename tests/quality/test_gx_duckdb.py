"""GX on real DuckDB files through the SQL path: shim, runner, counts-only outcomes."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import duckdb
import great_expectations as gx
import pytest
from great_expectations.execution_engine.sqlalchemy_execution_engine import (
    SqlAlchemyExecutionEngine,
)

from quality import gx_duckdb
from quality.runner import ExpectationOutcome, scrub, validate_duckdb

E = gx.expectations


def make_db(tmp_path: Path, *statements: str) -> Path:
    path = tmp_path / "staging.duckdb"
    with duckdb.connect(str(path)) as con:
        for sql in statements:
            con.execute(sql)
    return path


def run_one(db: Path, expectation: gx.expectations.Expectation) -> ExpectationOutcome:
    [outcome] = validate_duckdb(db, "t", [expectation], suite_name="test")
    return outcome


# --- the shim -----------------------------------------------------------------


def test_shim_matches_pinned_gx_and_installs_once() -> None:
    assert gx.__version__ == gx_duckdb.TESTED_GX_VERSION, (
        "GX was upgraded: re-check quality/gx_duckdb.py against the new GX internals"
    )
    gx_duckdb.install()
    gx_duckdb.install()
    wrapped = SqlAlchemyExecutionEngine.execute_query
    original = wrapped._regionlab_original
    assert not hasattr(original, "_regionlab_original"), "install() wrapped twice"
    assert gx_duckdb.unpatched_regex_callers() == [], (
        "a GX module builds regexes with GX's own function; DuckDB would get PostgreSQL's ~"
    )


def test_shim_runs_regex_and_column_metrics_through_sql(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        "create table t as select * from (values ('abc', 1), ('xbz', 2), ('qqq', NULL)) v(s, n)",
    )
    outcomes = validate_duckdb(
        db,
        "t",
        [
            # search semantics: 'b' occurs inside 'abc' and 'xbz' (DuckDB's ~ would full-match)
            E.ExpectColumnValuesToMatchRegex(column="s", regex="b"),
            E.ExpectColumnValuesToNotMatchRegex(column="s", regex="^q+$"),
            E.ExpectColumnValuesToNotBeNull(column="n"),
        ],
        suite_name="shim",
    )
    assert [(o.status, o.unexpected_count, o.element_count) for o in outcomes] == [
        ("failed", 1, 3),
        ("failed", 1, 3),
        ("failed", 1, 3),
    ]
    # The execution engine GX built for DuckDB got the PostgreSQL-based dialect module.
    engine = SqlAlchemyExecutionEngine(connection_string=f"duckdb:///{db}")
    try:
        assert gx_duckdb.is_duckdb_dialect(engine.dialect_module)
        assert engine.dialect_module.INTEGER is not None  # delegates to sqlalchemy's pg module
    finally:
        engine.close()


# --- expectations ---------------------------------------------------------------


def test_not_null_counts_nulls(tmp_path: Path) -> None:
    db = make_db(tmp_path, "create table t as select * from (values (1), (NULL), (3), (NULL)) v(x)")
    outcome = run_one(db, E.ExpectColumnValuesToNotBeNull(column="x"))
    assert outcome.status == "failed" and not outcome.success
    assert (outcome.unexpected_count, outcome.element_count) == (2, 4)
    assert outcome.unexpected_percent == pytest.approx(50.0)
    assert outcome.columns == ("x",)


def test_unique_flags_duplicated_value(tmp_path: Path) -> None:
    db = make_db(
        tmp_path, "create table t as select * from (values ('a'), ('b'), ('b'), ('c')) v(k)"
    )
    outcome = run_one(db, E.ExpectColumnValuesToBeUnique(column="k"))
    assert outcome.status == "failed"
    assert outcome.unexpected_count == 2  # GX counts every row of a duplicated group


def test_compound_columns_unique(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        "create table t as select * from (values (1, 'x'), (1, 'y'), (2, 'x'), (1, 'x')) v(a, b)",
    )
    both = run_one(db, E.ExpectCompoundColumnsToBeUnique(column_list=["a", "b"]))
    assert both.status == "failed" and both.unexpected_count == 2
    assert both.columns == ("a", "b")
    with duckdb.connect(str(db)) as con:
        con.execute("delete from t where rowid = 3")
    assert run_one(db, E.ExpectCompoundColumnsToBeUnique(column_list=["a", "b"])).success


def test_values_in_set(tmp_path: Path) -> None:
    db = make_db(
        tmp_path, "create table t as select * from (values ('A'), ('B'), ('Z'), (NULL)) v(c)"
    )
    outcome = run_one(db, E.ExpectColumnValuesToBeInSet(column="c", value_set=["A", "B"]))
    assert outcome.status == "failed"
    assert (outcome.unexpected_count, outcome.element_count) == (1, 4)
    # unexpected_percent is over non-null rows, as GX reports it
    assert outcome.unexpected_percent == pytest.approx(100 / 3)


def test_match_regex_with_failing_value(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        "create table t as select * from "
        "(values ('DI109'), ('DE119'), ('X-bad'), ('DJ449')) v(code)",
    )
    outcome = run_one(
        db, E.ExpectColumnValuesToMatchRegex(column="code", regex=r"^D[A-Z][0-9]{3}$")
    )
    assert outcome.status == "failed" and outcome.unexpected_count == 1
    ok = run_one(db, E.ExpectColumnValuesToMatchRegex(column="code", regex=r"^[A-Z]"))
    assert ok.status == "passed" and ok.unexpected_count == 0


def test_between_numbers_and_dates(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        """create table t as select * from (values
             (10, date '2024-01-01'), (55, date '2024-06-30'),
             (120, date '2023-12-31'), (-1, date '2025-01-01')) v(age, admitted)""",
    )
    outcomes = validate_duckdb(
        db,
        "t",
        [
            E.ExpectColumnValuesToBeBetween(column="age", min_value=0, max_value=110),
            E.ExpectColumnValuesToBeBetween(
                column="admitted", min_value=date(2024, 1, 1), max_value=date(2024, 12, 31)
            ),
            E.ExpectColumnValuesToBeBetween(
                column="admitted", min_value="2023-12-31", max_value="2025-01-01"
            ),
        ],
        suite_name="between",
    )
    assert [(o.status, o.unexpected_count) for o in outcomes] == [
        ("failed", 2),
        ("failed", 2),
        ("passed", 0),
    ]


def test_column_pair_a_greater_or_equal_b(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        """create table t as select * from (values
             (date '2024-01-05', date '2024-01-01'),
             (date '2024-01-01', date '2024-01-01'),
             (date '2024-01-01', date '2024-01-09')) v(ended, started)""",
    )
    ge, gt = validate_duckdb(
        db,
        "t",
        [
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ended", column_B="started", or_equal=True
            ),
            E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="ended", column_B="started"),
        ],
        suite_name="pair",
    )
    assert (ge.status, ge.unexpected_count, ge.columns) == ("failed", 1, ("ended", "started"))
    assert (gt.status, gt.unexpected_count) == ("failed", 2)


def test_table_row_count_between(tmp_path: Path) -> None:
    db = make_db(tmp_path, "create table t as select range as i from range(42)")
    inside, outside = validate_duckdb(
        db,
        "t",
        [
            E.ExpectTableRowCountToBeBetween(min_value=1, max_value=100),
            E.ExpectTableRowCountToBeBetween(min_value=50),
        ],
        suite_name="rows",
    )
    assert (inside.status, inside.element_count) == ("passed", 42)
    assert (outside.status, outside.element_count) == ("failed", 42)
    assert inside.columns == ()


def test_mostly_threshold_at_the_boundary(tmp_path: Path) -> None:
    # 100 rows: 10 nulls is exactly 90 % non-null; 11 nulls is below.
    db = make_db(
        tmp_path,
        "create table t as select range as i, "
        "case when range < 10 then null else range end as x10, "
        "case when range < 11 then null else range end as x11 from range(100)",
    )
    at, below, in_set = validate_duckdb(
        db,
        "t",
        [
            E.ExpectColumnValuesToNotBeNull(column="x10", mostly=0.9),
            E.ExpectColumnValuesToNotBeNull(column="x11", mostly=0.9),
            E.ExpectColumnValuesToBeInSet(column="i", value_set=list(range(90)), mostly=0.9),
        ],
        suite_name="mostly",
    )
    assert (at.status, at.unexpected_count) == ("passed", 10)
    assert (below.status, below.unexpected_count) == ("failed", 11)
    assert (in_set.status, in_set.unexpected_count) == ("passed", 10)


def test_missing_column_is_errored_not_failed(tmp_path: Path) -> None:
    db = make_db(tmp_path, "create table t as select * from (values (1), (2)) v(x)")
    missing, present = validate_duckdb(
        db,
        "t",
        [
            E.ExpectColumnValuesToNotBeNull(column="nope"),
            E.ExpectColumnValuesToNotBeNull(column="x"),
        ],
        suite_name="missing",
    )
    assert missing.status == "errored" and missing.success is False
    assert missing.unexpected_count is None
    assert missing.error and "nope" in missing.error
    assert present.status == "passed"  # one broken expectation does not sink the others


def test_outcomes_follow_input_order_and_leave_inputs_untouched(tmp_path: Path) -> None:
    db = make_db(tmp_path, "create table t as select range as i from range(5)")
    expectations = [
        E.ExpectTableRowCountToEqual(value=5),
        E.ExpectColumnValuesToNotBeNull(column="i"),
        E.ExpectColumnValuesToBeBetween(column="i", min_value=10),
    ]
    outcomes = validate_duckdb(db, "t", expectations, suite_name="order")
    assert [o.expectation_type for o in outcomes] == [
        "expect_table_row_count_to_equal",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
    ]
    assert [o.status for o in outcomes] == ["passed", "passed", "failed"]
    assert all(e.id is None for e in expectations)
    # the same expectation objects can be run again (e.g. next pipeline run)
    assert validate_duckdb(db, "t", expectations, suite_name="order") == outcomes


# --- privacy ----------------------------------------------------------------------

SECRETS = ["9f2c4e1ab37d4c0e8e61d2f5a0b9c7e3", "04d1e6b8f9a24c37b5e0c1d2a3f4e5d6"]


def test_outcomes_and_logs_carry_no_row_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    db = make_db(
        tmp_path,
        "create table t (pid varchar, n integer)",
        f"insert into t values ('{SECRETS[0]}', 1), ('{SECRETS[0]}', 2), ('{SECRETS[1]}', 3)",
    )
    outcomes = validate_duckdb(
        db,
        "t",
        [
            E.ExpectColumnValuesToBeUnique(column="pid"),
            E.ExpectColumnValuesToBeInSet(column="pid", value_set=["nothing"]),
            E.ExpectColumnValuesToMatchRegex(column="pid", regex="^[0-9]+$"),
            # A real SQL error whose DuckDB message quotes a row value:
            # "Conversion Error: Could not convert string '9f2c…' to INT32".
            E.ExpectColumnValuesToBeInSet(column="pid", value_set=[1, 2]),
        ],
        suite_name="privacy",
    )
    unique, in_set, regex, cast_error = outcomes
    assert (unique.status, unique.unexpected_count) == ("failed", 2)
    assert in_set.status == regex.status == "failed"
    assert cast_error.status == "errored", cast_error
    assert cast_error.error and "Conversion Error" in cast_error.error

    serialised = json.dumps([o.model_dump(mode="json") for o in outcomes])
    out, err = capfd.readouterr()
    for secret in SECRETS:
        for fragment in (secret, secret[:12], secret[-12:]):
            assert fragment not in serialised
            assert fragment not in caplog.text
            assert fragment not in out + err


def test_scrub_removes_values_but_keeps_known_names() -> None:
    message = (
        "(duckdb.ConversionException) Conversion Error: Could not convert string "
        '\'0101901234\' to INT32 in column "pid", value "Jens Hansen" 9f2c4e1ab37d4c0e '
        "tlf 12 34 56 78\n[SQL: SELECT sum(...) FROM t WHERE pid = $1]\n[parameters: ('x',)]"
    )
    cleaned = scrub(message, {"pid", "t"})
    assert '"pid"' in cleaned
    for leaked in ("0101901234", "Jens", "9f2c4e1ab37d4c0e", "12 34 56 78", "SELECT", "'x'"):
        assert leaked not in cleaned


# --- resources ----------------------------------------------------------------------


def test_file_can_be_reopened_read_write_after_validation(tmp_path: Path) -> None:
    db = make_db(tmp_path, "create table t as select range as i from range(10)")
    [outcome] = validate_duckdb(
        db, "t", [E.ExpectColumnValuesToNotBeNull(column="i")], suite_name="r"
    )
    assert outcome.success
    # GX opened the file read-only; had any of its connections survived, DuckDB would
    # refuse this read-write connection ("different configuration") in this process.
    with duckdb.connect(str(db)) as con:
        con.execute("insert into t values (10)")
        assert con.execute("select count(*) from t").fetchone() == (11,)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.duckdb"):
        validate_duckdb(
            tmp_path / "nothing.duckdb",
            "t",
            [E.ExpectColumnValuesToNotBeNull(column="i")],
            suite_name="x",
        )


def test_open_connection_in_this_process_is_reported(tmp_path: Path) -> None:
    db = make_db(tmp_path, "create table t as select range as i from range(3)")
    with (
        duckdb.connect(str(db)),
        pytest.raises(RuntimeError, match="close other connections") as raised,
    ):
        validate_duckdb(db, "t", [E.ExpectColumnValuesToNotBeNull(column="i")], suite_name="x")
    assert "different configuration" in str(raised.value)
    # once the caller's connection is closed, validation works
    [outcome] = validate_duckdb(
        db, "t", [E.ExpectColumnValuesToNotBeNull(column="i")], suite_name="x"
    )
    assert outcome.status == "passed"


def test_missing_table_is_reported(tmp_path: Path) -> None:
    db = make_db(tmp_path, "create table t as select 1 as i")
    with pytest.raises(LookupError, match="'contacts' not found"):
        validate_duckdb(
            db, "contacts", [E.ExpectColumnValuesToNotBeNull(column="i")], suite_name="x"
        )


def test_duckdb_connections_of_sqlalchemy_draw_no_progress_bar(tmp_path) -> None:
    """DuckDB's bar would print between ``regionlab run``'s lines for GX's long queries."""
    import sqlalchemy as sa

    path = tmp_path / "x.duckdb"
    duckdb.connect(str(path)).close()
    gx_duckdb.install()
    engine = sa.create_engine(f"duckdb:///{path}")
    try:
        with engine.connect() as conn:
            value = conn.exec_driver_sql("SELECT current_setting('enable_progress_bar')").scalar()
    finally:
        engine.dispose()
    assert value is False
