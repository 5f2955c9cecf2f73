"""Binding derived SQL against upstream columns, and what the real derived SQL computes."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from regionlab.spec.loader import load_domains
from regionlab.spec.models import Derived, Product, Registry
from regionlab.spec.sqlcheck import check_derived_sql
from tests.spec.conftest import DOMAINS


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_domains(DOMAINS)


def with_sql(product: Product, sql: str) -> Product:
    assert product.derived is not None
    return product.model_copy(
        update={"derived": Derived(upstream=product.derived.upstream, sql=sql)}
    )


def findings(registry: Registry, product: Product) -> list[tuple[str, str, str]]:
    return list(check_derived_sql(product, [registry.product(u) for u in product.upstream]))


def test_every_real_derived_product_binds(registry: Registry) -> None:
    derived = [p for p in registry.products.values() if p.is_derived]
    assert len(derived) == 4
    for product in derived:
        assert findings(registry, product) == [], product.ref


def test_other_column_order_is_reported(registry: Registry) -> None:
    product = with_sql(
        registry.product("population/municipality_population"),
        "SELECT age_band, municipality_code, sex, count(*) AS persons, current_date AS counted_on"
        " FROM population.persons GROUP BY ALL;",
    )
    assert findings(registry, product) == [
        (
            "derived.sql",
            "the SQL outputs the columns in another order than declared: age_band, "
            "municipality_code, sex, persons, counted_on",
            "order the SELECT like the columns list",
        )
    ]


def test_a_type_the_format_lacks_asks_for_a_cast(registry: Registry) -> None:
    product = with_sql(
        registry.product("population/municipality_population"),
        "SELECT municipality_code, age_band, sex, sum(1) AS persons, current_date AS counted_on"
        " FROM population.persons GROUP BY ALL",
    )
    assert findings(registry, product) == [
        (
            "columns[persons].type",
            "declared bigint, but the SQL outputs HUGEINT",
            "CAST it in the SQL to bigint",
        )
    ]


def test_duplicate_output_names_are_reported(registry: Registry) -> None:
    product = with_sql(
        registry.product("population/municipality_population"),
        "SELECT municipality_code, age_band, sex, count(*) AS persons, current_date AS counted_on,"
        " sex FROM population.persons GROUP BY ALL",
    )
    assert findings(registry, product) == [
        (
            "derived.sql",
            "the SQL outputs column 'sex' more than once",
            "give every output column its own alias",
        )
    ]


def test_only_one_statement(registry: Registry) -> None:
    product = with_sql(
        registry.product("research/readmissions_30d"),
        "SELECT 1 AS x; DROP TABLE patient_administration.contacts",
    )
    assert findings(registry, product) == [
        ("derived.sql", "expected one SELECT statement, found 2", "remove the extra statements")
    ]


def test_the_sql_cannot_touch_files(registry: Registry, tmp_path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    product = with_sql(
        registry.product("research/readmissions_30d"), f"SELECT * FROM read_csv('{secret}')"
    )
    [(field, message, _)] = findings(registry, product)
    assert field == "derived.sql"
    assert message.startswith("SQL does not run on the upstream products: Permission Error:")
    assert str(secret) in message  # the path the steward wrote, never a row value


def test_a_syntax_error(registry: Registry) -> None:
    product = with_sql(registry.product("research/readmissions_30d"), "SELEC person_key FROM x")
    [(field, message, _)] = findings(registry, product)
    assert field == "derived.sql"
    assert message.startswith("SQL does not parse in DuckDB: Parser Error: syntax error at or near")


# --- the real definitions on a handful of rows ----------------------------------------------


def lake_with(registry: Registry, refs: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for ref in refs:
        p = registry.product(ref)
        cols = ", ".join(f'"{c.name}" {c.type.duckdb}' for c in p.published_columns)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {p.domain}")
        con.execute(f"CREATE TABLE {p.table} ({cols})")
    return con


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_readmissions_definition(registry: Registry) -> None:
    product = registry.product("research/readmissions_30d")
    con = lake_with(registry, product.upstream)
    rows = [
        # person a: planned stay, acute return after 10 days -> readmission (10 days)
        ("K1", "a", "h", "d", "fysisk", "planlagt", "2025-01-01 08:00", "2025-01-03 12:00"),
        ("K2", "a", "h", "d", "fysisk", "akut", "2025-01-13 09:00", "2025-01-14 09:00"),
        # person a: acute again 40 days later -> not within 30 days
        ("K3", "a", "h", "d", "fysisk", "akut", "2025-02-23 09:00", "2025-02-24 09:00"),
        # person b: planned return within 30 days -> not acute, not a readmission
        ("K4", "b", "h", "d", "virtuel", "planlagt", "2025-03-01 08:00", "2025-03-01 09:00"),
        ("K5", "b", "h", "d", "virtuel", "planlagt", "2025-03-05 08:00", "2025-03-05 09:00"),
        # person c: acute contact overlapping the previous one (transfer) -> not counted
        ("K6", "c", "h", "d", "fysisk", "planlagt", "2025-04-01 08:00", "2025-04-10 08:00"),
        ("K7", "c", "h", "d2", "fysisk", "akut", "2025-04-05 08:00", "2025-04-06 08:00"),
        # person d: previous contact ends before it starts (defect) -> ignored as index
        ("K8", "d", "h", "d", "fysisk", "planlagt", "2025-05-10 08:00", "2025-05-01 08:00"),
        ("K9", "d", "h", "d", "fysisk", "akut", "2025-05-12 08:00", "2025-05-13 08:00"),
        # person e: exactly 30 days later -> counted
        ("K10", "e", "h", "d", "hjemmebesøg", "planlagt", "2025-06-01 08:00", "2025-06-01 10:00"),
        ("K11", "e", "h", "d", "hjemmebesøg", "akut", "2025-07-01 10:00", None),
    ]
    con.executemany(
        "INSERT INTO patient_administration.contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
    )
    got = con.execute(product.derived.sql).fetchall()  # type: ignore[union-attr]
    assert got == [
        ("a", "K1", ts("2025-01-03 12:00"), "K2", ts("2025-01-13 09:00"), 10),
        ("e", "K10", ts("2025-06-01 10:00"), "K11", ts("2025-07-01 10:00"), 30),
    ]


def test_t2d_cohort_definition(registry: Registry) -> None:
    product = registry.product("research/t2d_cohort")
    con = lake_with(registry, product.upstream)
    con.executemany(
        "INSERT INTO population.persons VALUES (?, ?, ?, ?, ?, ?)",
        [(key, "60-64", "K", "461", "461", None) for key in ("hba", "met", "low", "nodx", "both")],
    )
    con.executemany(
        "INSERT INTO diagnoses.diagnoses VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("D1", "K1", "hba", "DE119", "A", ts("2022-03-01 10:00")),
            ("D2", "K2", "hba", "DE112", "B", ts("2021-05-01 10:00")),
            ("D3", "K3", "met", "DE110", "A", ts("2023-01-01 10:00")),
            ("D4", "K4", "low", "DE119", "A", ts("2023-01-01 10:00")),
            ("D5", "K5", "nodx", "DI109", "A", ts("2023-01-01 10:00")),
            ("D6", "K6", "both", "DE119", "A", ts("2020-01-01 10:00")),
        ],
    )
    con.executemany(
        "INSERT INTO laboratory.lab_results VALUES (?, ?, 'NPU27300', 'HbA1c', ?, 'mmol/mol',"
        " 20, 42, ?, 'd')",
        [
            ("S1", "hba", 52.0, ts("2022-01-01 08:00")),  # >= 48 once ...
            ("S2", "hba", 44.0, ts("2023-01-01 08:00")),  # ... latest is lower
            ("S3", "low", 47.9, ts("2023-02-01 08:00")),  # below 48, no metformin: out
            ("S4", "nodx", 70.0, ts("2023-02-01 08:00")),  # high but no DE11: out
            ("S5", "both", 60.0, ts("2021-02-01 08:00")),
        ],
    )
    con.executemany(
        "INSERT INTO medication.prescriptions VALUES (?, ?, ?, 'x', '500 mg', ?, NULL)",
        [
            ("P1", "met", "A10BA02", dt.date(2023, 2, 1)),
            ("P2", "low", "A10BB01", dt.date(2023, 2, 1)),  # not metformin
            ("P3", "both", "A10BA02", dt.date(2020, 2, 1)),
        ],
    )
    got = con.execute(product.derived.sql).fetchall()  # type: ignore[union-attr]
    assert got == [
        ("both", dt.date(2020, 1, 1), 60.0, ts("2021-02-01 08:00"), True, "60-64", "K", "461"),
        ("hba", dt.date(2021, 5, 1), 44.0, ts("2023-01-01 08:00"), False, "60-64", "K", "461"),
        ("met", dt.date(2023, 1, 1), None, None, True, "60-64", "K", "461"),
    ]


def test_monthly_activity_counts_by_month_department_and_municipality(
    registry: Registry,
) -> None:
    product = registry.product("research/monthly_activity")
    con = lake_with(registry, product.upstream)
    con.executemany(
        "INSERT INTO population.persons VALUES (?, '50-54', 'M', ?, ?, NULL)",
        [("a", "461", "461"), ("b", "561", "561")],
    )
    con.executemany(
        "INSERT INTO patient_administration.contacts VALUES (?, ?, 'h', ?, 'virtuel', 'akut', ?,"
        " NULL)",
        [
            ("K1", "a", "d1", ts("2025-01-02 08:00")),
            ("K2", "a", "d1", ts("2025-01-31 23:00")),
            ("K3", "b", "d1", ts("2025-01-15 08:00")),
            ("K4", "a", "d2", ts("2025-02-01 00:00")),
            ("K5", "zz", "d1", ts("2025-01-03 08:00")),
        ],  # not in the population: left out
    )
    got = con.execute(product.derived.sql).fetchall()  # type: ignore[union-attr]
    assert got == [
        (dt.date(2025, 1, 1), "d1", "461", 2),
        (dt.date(2025, 1, 1), "d1", "561", 1),
        (dt.date(2025, 2, 1), "d2", "461", 1),
    ]
