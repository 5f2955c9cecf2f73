"""Compile a cohort definition to SQL over the published products.

The SQL is plain text with literals, not parameters, so it can be shown in a
notebook, stored in an audit trail and embedded as a subquery when a workspace
is built. That is safe because every literal is a validated code, a number or
a date (codes are checked against the code lists before they get here) and
every literal still goes through :func:`_lit`.

Column names are not assumed: each criterion names the product columns it
needs and compilation checks them against the product specs, so a renamed
column in ``domains/`` fails here with a message instead of deep in DuckDB.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from regionlab.errors import UserError
from regionlab.lake import LAKE_ALIAS, list_tables
from regionlab.research.cohort import (
    AnyOfCriterion,
    Cohort,
    DiagnosisCriterion,
    LabCriterion,
    MedicationCriterion,
    ProcedureCriterion,
    criteria_of,
)
from regionlab.settings import get_settings
from regionlab.spec import Registry, load_domains
from regionlab.sql import quote_ident, quote_literal

PERSONS = "population/persons"

#: Product and the columns each kind of criterion reads.
NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "persons": (PERSONS, ("person_key", "age_band", "sex", "municipality_code", "death_month")),
    "diagnosis": (
        "diagnoses/diagnoses",
        ("person_key", "diagnosis_code", "diagnosis_type", "registered_at"),
    ),
    "procedure": ("diagnoses/procedures", ("person_key", "procedure_code", "performed_at")),
    "lab": ("laboratory/lab_results", ("person_key", "npu_code", "value", "sampled_at")),
    "medication": (
        "medication/prescriptions",
        ("person_key", "atc_code", "start_date", "end_date"),
    ),
}

_UNION = "\n        UNION ALL\n        "

#: Columns of the compiled query: one row per cohort member.
OUTPUT_COLUMNS = ("person_key", "sex", "age_band", "municipality_code")


@dataclass(frozen=True)
class CompiledCohort:
    """A cohort ready to run: SQL, the products it reads and notes for the researcher."""

    cohort: Cohort
    """The definition with ``index_date`` fixed to a day."""
    index_date: date
    sql: str
    """``SELECT person_key, sex, age_band, municipality_code`` of every member, once each."""
    products: tuple[str, ...]
    notes: tuple[str, ...]
    fingerprint: str

    def check_lake(self, con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> None:
        """Refuse, naming the product, when the connection's snapshot lacks a table."""
        present = {f"{d}/{p}" for d, p in list_tables(con, alias)}
        missing = [ref for ref in self.products if ref not in present]
        if missing:
            raise UserError(
                f"cohort {self.cohort.name!r} needs {', '.join(missing)}, which the lake does not "
                "hold at this snapshot; run the pipelines first (`regionlab run`) or pick a later "
                "snapshot"
            )


@functools.lru_cache(maxsize=4)
def _load_registry(root: Path, signature: tuple[tuple[str, int, int], ...]) -> Registry:
    return load_domains(root)


def current_registry() -> Registry:
    """The product specs, parsed again only when a file under ``domains/`` changed.

    Parsing the YAML takes most of a feasibility answer's time otherwise.
    """
    root = get_settings().domains_dir
    signature = tuple(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*.yaml"))
    )
    return _load_registry(root, signature)


def _lit(value: str) -> str:
    return quote_literal(str(value))


def _num(value: float) -> str:
    return repr(float(value))


def _table(ref: str, alias: str) -> str:
    domain, product = ref.split("/")
    return ".".join(quote_ident(p) for p in (alias, domain, product))


def _check_spec(registry: Registry, kind: str, where: str) -> str:
    ref, columns = NEEDS[kind]
    if ref not in registry.products:
        raise UserError(
            f"{where}: a {kind} criterion reads product {ref}, which is not declared under "
            "domains/; ask the data steward or remove the criterion"
        )
    product = registry.products[ref]
    published = {c.name for c in product.published_columns}
    missing = [c for c in columns if c not in published]
    if missing:
        raise UserError(
            f"{where}: product {ref} publishes no column(s) {', '.join(missing)} that a {kind} "
            "criterion needs; the product spec changed — update regionlab.research.cohort_sql"
        )
    return ref


def _prefix_range(column: str, prefix: str) -> str:
    """``starts_with`` as the equivalent half-open range ``[prefix, successor)``.

    DuckDB's zone maps skip row groups on a range but not on ``starts_with``, and
    the service's copy sorts events by code: at region scale a diagnosis-prefix
    criterion read 5.6 M rows (0.36 s) instead of the few row groups holding it.
    Validated codes are ASCII letters and digits, so the successor is defined.
    """
    if not prefix or not prefix.isascii() or not prefix.isalnum():
        return f"starts_with({column}, {_lit(prefix)})"
    successor = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return f"({column} >= {_lit(prefix)} AND {column} < {_lit(successor)})"


def _prefix_match(column: str, prefixes: list[str]) -> str:
    parts = [_prefix_range(column, p) for p in prefixes]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _membership(included: list[str], excluded: list[str]) -> list[str]:
    """The criteria as conditions on ``p.person_key``: one set expression when any include.

    ``IN (A INTERSECT B EXCEPT C)`` rather than one semi join per criterion: each
    set is made distinct before it meets the person register, so a criterion
    matching many events per person (a diagnosis code) no longer builds a hash
    table of every event; at region scale that halved a cohort's CPU (0.41–0.54 s
    → 0.28 s on the service's copy). Keys are never NULL in the subqueries, so
    ``EXCEPT`` means what ``NOT IN`` meant.
    """
    if not included:
        return [f"p.person_key NOT IN (\n        {body}\n    )" for body in excluded]
    expr = f"(SELECT person_key FROM (\n        {included[0]}\n    ))"
    for op, bodies in (("INTERSECT", included[1:]), ("EXCEPT", excluded)):
        for body in bodies:
            expr = f"({expr}\n    {op} (SELECT person_key FROM (\n        {body}\n    )))"
    return [f"p.person_key IN {expr}"]


def _in_list(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(_lit(v) for v in values)})"


def _time_window(column: str, start: date | None, end: date | None) -> list[str]:
    """Inclusive days; a timestamp on the last day counts, hence ``< end + 1 day``."""
    out = []
    if start is not None:
        out.append(f"{column} >= DATE {_lit(start.isoformat())}")
    if end is not None:
        out.append(f"{column} < DATE {_lit((end + timedelta(days=1)).isoformat())}")
    return out


def _event_sql(criterion: object, index: date, alias: str) -> tuple[str, str]:
    """``(product ref, SELECT person_key ...)`` for one event criterion."""
    start = end = None
    within = getattr(criterion, "within", None)
    if within is not None:
        start, end = within.resolve(index)
    where: list[str] = ["person_key IS NOT NULL"]
    if isinstance(criterion, DiagnosisCriterion):
        ref = NEEDS["diagnosis"][0]
        where.append(_prefix_match("diagnosis_code", criterion.codes))
        if criterion.diagnosis_type:
            where.append(_in_list("diagnosis_type", criterion.diagnosis_type))
        where += _time_window("registered_at", start, end)
    elif isinstance(criterion, ProcedureCriterion):
        ref = NEEDS["procedure"][0]
        where.append(_prefix_match("procedure_code", criterion.codes))
        where += _time_window("performed_at", start, end)
    elif isinstance(criterion, LabCriterion):
        ref = NEEDS["lab"][0]
        where.append(_in_list("npu_code", criterion.npu))
        for value, op in (
            (criterion.above, ">"),
            (criterion.at_least, ">="),
            (criterion.below, "<"),
            (criterion.at_most, "<="),
        ):
            if value is not None:
                where.append(f"value {op} {_num(value)}")
        where += _time_window("sampled_at", start, end)
    elif isinstance(criterion, MedicationCriterion):
        ref = NEEDS["medication"][0]
        where.append(_prefix_match("atc_code", criterion.atc))
        # The prescription period overlaps the window.
        if end is not None:
            where.append(f"start_date <= DATE {_lit(end.isoformat())}")
        if start is not None:
            where.append(f"coalesce(end_date, start_date) >= DATE {_lit(start.isoformat())}")
    else:  # pragma: no cover - the models allow nothing else
        raise TypeError(type(criterion).__name__)
    body = f"SELECT person_key FROM {_table(ref, alias)} WHERE {' AND '.join(where)}"
    min_count = getattr(criterion, "min_count", 1)
    if min_count > 1:
        body += f" GROUP BY person_key HAVING count(*) >= {int(min_count)}"
    return ref, body


def compile_cohort(
    cohort: Cohort,
    *,
    registry: Registry | None = None,
    alias: str = LAKE_ALIAS,
    today: date | None = None,
) -> CompiledCohort:
    """SQL selecting each cohort member once, with the person attributes used for strata."""
    registry = registry or current_registry()
    resolved = cohort.resolved(today)
    index = resolved.resolved_index_date()
    products = [_check_spec(registry, "persons", "population")]
    notes: list[str] = []

    where = ["p.person_key IS NOT NULL"]
    if resolved.sex:
        where.append(_in_list("p.sex", resolved.sex))
    if resolved.age is not None:
        where.append(_in_list("p.age_band", resolved.age.bands()))
        note = resolved.age.note()
        if note:
            notes.append(note)
        notes.append("age bands are the age on the person register's extract date")
    if resolved.municipality:
        where.append(_in_list("p.municipality_code", resolved.municipality))
    if resolved.alive_at_index:
        month = index.replace(day=1).isoformat()
        where.append(f"(p.death_month IS NULL OR p.death_month > DATE {_lit(month)})")

    included: list[str] = []
    excluded: list[str] = []
    for path, criterion in criteria_of(resolved):
        members = criterion.criteria if isinstance(criterion, AnyOfCriterion) else [criterion]
        subqueries = []
        for member in members:
            ref = _check_spec(registry, member.kind, path)
            if ref not in products:
                products.append(ref)
            subqueries.append(_event_sql(member, index, alias)[1])
        (included if path.startswith("include") else excluded).append(_UNION.join(subqueries))
    where.extend(_membership(included, excluded))

    conditions = "\n  AND ".join(where)
    sql = (
        f"SELECT {', '.join('p.' + c for c in OUTPUT_COLUMNS)}\n"
        f"FROM {_table(PERSONS, alias)} AS p\n"
        f"WHERE {conditions}"
    )
    return CompiledCohort(
        cohort=resolved,
        index_date=index,
        sql=sql,
        products=tuple(products),
        notes=tuple(notes),
        fingerprint=resolved.fingerprint(),
    )


def cohort_members(
    con: duckdb.DuckDBPyConnection, compiled: CompiledCohort, alias: str = LAKE_ALIAS
) -> duckdb.DuckDBPyRelation:
    """The members as a relation of ``con`` (checked against the lake first)."""
    compiled.check_lake(con, alias)
    return con.sql(compiled.sql)


__all__ = ["NEEDS", "OUTPUT_COLUMNS", "CompiledCohort", "cohort_members", "compile_cohort"]
