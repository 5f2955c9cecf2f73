"""Quality rules a steward can declare, each with everything the platform does with it.

One model per rule type, discriminated by ``type``, so a typo in a rule names
exactly the field that is wrong and the JSON Schema offers each type's fields.
Each class also declares its projections — ODCS dimension, generated
description, quarantine predicate, GX expectation, cross-table SQL, the
product it reads and the data-contract check a consumer runs — and registers
itself (:mod:`regionlab.spec.rule_kinds`), so adding a rule type is adding one
class here and touching nothing else.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from regionlab.results import Status
from regionlab.spec.rule_kinds import (
    CrossContext,
    CrossOutcome,
    Expectation,
    mostly,
    not_applicable,
    register_rule_kind,
    rule_union,
    set_base,
)
from regionlab.spec.vocab import CodeSystem, ColumnType, Kahn, Severity
from regionlab.sql import quote_ident, sql_value

if TYPE_CHECKING:
    from regionlab.spec.models import Product

RULE_ID = r"^[a-z][a-z0-9_]*$"

#: The executable part of an ODCS v3.1 quality rule: ``type`` (``library`` or ``sql``),
#: its metric and arguments or its query, and one comparator (``mustBe`` …).
OdcsCheck = dict[str, object]

#: For row predicates that do not depend on the delivery date (value sets, patterns, bounds).
_ANY_DAY = dt.date(2000, 1, 1)

#: The ODCS placeholder datacontract-cli (and other ODCS tools) fill with the table's name.
ODCS_TABLE = "${table}"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID, description="Stable rule id, unique within the product.")
    description: str | None = Field(None, description="What the rule protects, in plain words.")
    kahn: Kahn = Field(description="Kahn category: conformance, completeness or plausibility.")
    severity: Severity = Field(Severity.blocking, description="blocking stops the publish.")
    threshold: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of rows allowed to fail (0 = none), as in OHDSI's DQD.",
    )

    #: ODCS quality dimension (declared by every rule type).
    dimension: ClassVar[str] = ""

    def columns_used(self) -> list[str]:
        """Published columns of this product the rule reads."""
        return []

    # Projections: every rule type declares each of them (rule_kinds checks it).

    def default_description(self) -> str:
        raise NotImplementedError

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        raise NotImplementedError

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        raise NotImplementedError

    def cross_check(self, ctx: CrossContext) -> CrossOutcome | None:
        raise NotImplementedError

    def reference(self) -> tuple[str, str] | None:
        raise NotImplementedError

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        raise NotImplementedError

    def _row_level(self) -> dict[str, object]:
        return {"mostly": mostly(self.threshold)}

    def spec_problems(self, product: Product) -> list[tuple[str, str, str]]:
        """``(field, message, hint)`` for what only this rule type can see in a spec."""
        return []


set_base(_Rule)


class _ColumnRule(_Rule):
    column: str = Field(description="Published column the rule checks.")
    quarantine: bool = Field(
        False,
        description="Move failing rows to quarantine before the audit instead of only "
        "counting them (row-level rules only).",
    )

    def columns_used(self) -> list[str]:
        return [self.column]


def _col(rule: _ColumnRule) -> str:
    return quote_ident(rule.column)


def _published_type(product: Product, column: str) -> ColumnType:
    published = product.published(column)
    if published is None:
        from regionlab.errors import UserError

        raise UserError(
            f"{product.ref}: quality rule refers to column {column!r}, which is not a "
            "published column; fix the rule's column name"
        )
    return published.type


_NUMERIC = frozenset({ColumnType.integer, ColumnType.bigint, ColumnType.double})
_TEMPORAL = frozenset({ColumnType.date, ColumnType.timestamp})


def _type_problems(
    rule: _Rule,
    product: Product,
    field: str,
    column: str,
    allowed: frozenset[ColumnType],
    what: str,
) -> list[tuple[str, str, str]]:
    """A rule on a column of a type it cannot judge (``between`` on varchar compares text).

    An unknown column is reported by the cross-file checks, not here.
    """
    published = product.published(column)
    if published is None or published.type in allowed:
        return []
    kind = getattr(rule, "type", "the rule")  # every registered kind has its Literal tag
    return [
        (
            field,
            f"{kind} needs a {what} column; '{column}' is {published.type}",
            f"point the rule at a {what} column, or change the column's type",
        )
    ]


def _bound(value: object) -> str:
    return "any" if value is None else str(value)


def _odcs_library(metric: str, threshold: float, **arguments: object) -> OdcsCheck:
    """An ODCS library metric counting failing rows: none, or a share of all rows."""
    check: OdcsCheck = {"type": "library", "metric": metric}
    if arguments:
        check["arguments"] = arguments
    if threshold:
        check |= {"unit": "percent", "mustBeLessOrEqualTo": round(threshold * 100, 9)}
    else:
        check["mustBe"] = 0
    return check


def _odcs_sql(failing: str, threshold: float, judged: str | None = None) -> OdcsCheck:
    """An ODCS SQL check over the rows ``judged`` (all rows when None).

    Without a threshold it counts the ``failing`` rows and wants none; with one it
    computes their share of the judged rows (as GX's ``mostly`` does: nulls a rule
    does not judge are not in the denominator) and wants at most the threshold.
    """
    where = f" WHERE {judged}" if judged else ""
    if not threshold:
        cond = f"({judged}) AND ({failing})" if judged else failing
        return {
            "type": "sql",
            "query": f"SELECT count(*) FROM {ODCS_TABLE} WHERE {cond}",
            "mustBe": 0,
        }
    return {
        "type": "sql",
        "query": f"SELECT coalesce(avg(CASE WHEN {failing} THEN 1.0 ELSE 0.0 END), 0) "
        f"FROM {ODCS_TABLE}{where}",
        "mustBeLessOrEqualTo": threshold,
    }


def _odcs_duplicates(columns: list[str], threshold: float) -> OdcsCheck:
    """Uniqueness of one column or a combination (rows with any null key are not judged)."""
    if not threshold:
        if len(columns) == 1:
            return _odcs_library("duplicateValues", 0.0)
        return _odcs_library("duplicateValues", 0.0, properties=list(columns))
    cols = ", ".join(quote_ident(c) for c in columns)
    judged = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in columns)
    return {
        "type": "sql",
        "query": "SELECT coalesce(sum(n) FILTER (WHERE n > 1) / sum(n), 0) FROM "
        f"(SELECT count(*) AS n FROM {ODCS_TABLE} WHERE {judged} GROUP BY {cols})",
        "mustBeLessOrEqualTo": threshold,
    }


def _odcs_table(ref: str) -> str:
    """Another product as the consumer's server names it: ``<domain>.<product>``."""
    domain, _, product = ref.partition("/")
    return f"{quote_ident(domain)}.{quote_ident(product)}"


def _missing_reference(ref: str) -> CrossOutcome:
    return CrossOutcome(
        Status.errored,
        detail=f"check could not run: {ref}, which this rule reads, is not in the lake yet "
        f"(it has never been published); publish it first (`regionlab run --product {ref}`)",
    )


@register_rule_kind
class NotNull(_ColumnRule):
    type: Literal["not_null"]
    dimension = "completeness"

    def default_description(self) -> str:
        return f"{self.column} is never empty."

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        return f"{_col(self)} IS NULL"

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectColumnValuesToNotBeNull",
            {"column": self.column, **self._row_level()},
            skips_empty=False,
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        return _odcs_library("nullValues", self.threshold)


@register_rule_kind
class Unique(_ColumnRule):
    type: Literal["unique"]
    dimension = "uniqueness"

    def default_description(self) -> str:
        return f"{self.column} is unique."

    row_predicate = not_applicable  # a duplicate is wrong only together with its twin

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectColumnValuesToBeUnique", {"column": self.column, **self._row_level()}
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        return _odcs_duplicates([self.column], self.threshold)


@register_rule_kind
class UniqueCombination(_Rule):
    type: Literal["unique_combination"]
    columns: list[str] = Field(min_length=2)
    dimension = "uniqueness"

    def columns_used(self) -> list[str]:
        return list(self.columns)

    def default_description(self) -> str:
        return f"The combination of {', '.join(self.columns)} is unique."

    row_predicate = not_applicable

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": list(self.columns), **self._row_level()},
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        return _odcs_duplicates(list(self.columns), self.threshold)


@register_rule_kind
class InSet(_ColumnRule):
    type: Literal["in_set"]
    values: list[str | int | float | bool] = Field(min_length=1)
    dimension = "conformity"

    def default_description(self) -> str:
        return f"{self.column} is one of the allowed values."

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        return f"{_col(self)} NOT IN ({', '.join(sql_value(v) for v in self.values)})"

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectColumnValuesToBeInSet",
            {"column": self.column, "value_set": list(self.values), **self._row_level()},
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        if self.threshold:
            return _odcs_sql(
                self.row_predicate(product, _ANY_DAY) or "",
                self.threshold,
                f"{_col(self)} IS NOT NULL",
            )
        return _odcs_library("invalidValues", 0.0, validValues=list(self.values))


@register_rule_kind
class InCodeList(_ColumnRule):
    type: Literal["in_code_list"]
    code_system: CodeSystem | None = Field(
        None, description="Defaults to the column's code_system."
    )
    dimension = "conformity"

    def system(self, product: Product) -> CodeSystem:
        """The rule's code system, else its column's."""
        column = product.published(self.column)
        system = self.code_system or (column.code_system if column else None)
        if system is None:
            from regionlab.errors import UserError

            raise UserError(
                f"{product.ref}: rule {self.id!r} needs a code_system (on the rule or on "
                f"column {self.column!r})"
            )
        return system

    def codes(self, product: Product) -> list[str]:
        from regionlab import codelists

        return sorted(codelists.codes(self.system(product).value))

    def default_description(self) -> str:
        system = self.code_system.value if self.code_system else "the column's code system"
        return f"{self.column} is a code in {system}."

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        codes = ", ".join(sql_value(c) for c in self.codes(product))
        return f"{_col(self)} NOT IN ({codes})"

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectColumnValuesToBeInSet",
            {"column": self.column, "value_set": self.codes(product), **self._row_level()},
        )

    cross_check = not_applicable
    reference = not_applicable

    def spec_problems(self, product: Product) -> list[tuple[str, str, str]]:
        column = product.published(self.column)
        if self.code_system is None and column is not None and column.code_system is None:
            return [
                (
                    "code_system",
                    "no code system for this column",
                    f"set code_system on the rule or on column {self.column}",
                )
            ]
        return []

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        if self.threshold:
            return _odcs_sql(
                self.row_predicate(product, _ANY_DAY) or "",
                self.threshold,
                f"{_col(self)} IS NOT NULL",
            )
        return _odcs_library("invalidValues", 0.0, validValues=self.codes(product))


@register_rule_kind
class Regex(_ColumnRule):
    type: Literal["regex"]
    pattern: str
    dimension = "conformity"

    def default_description(self) -> str:
        return f"{self.column} has the expected format."

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        return f"NOT regexp_full_match({_col(self)}, {sql_value(self.pattern)})"

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        # Full-match, as the quarantine predicate reads the rule; the GX shim makes GX
        # *search*, so the whole pattern is anchored.
        return Expectation(
            "ExpectColumnValuesToMatchRegex",
            {"column": self.column, "regex": f"^(?:{self.pattern})$", **self._row_level()},
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        if self.threshold:
            return _odcs_sql(
                self.row_predicate(product, _ANY_DAY) or "",
                self.threshold,
                f"{_col(self)} IS NOT NULL",
            )
        # Anchored, as for GX: ODCS tools search with the pattern, the spec means a full match.
        return _odcs_library("invalidValues", 0.0, pattern=f"^(?:{self.pattern})$")

    def spec_problems(self, product: Product) -> list[tuple[str, str, str]]:
        return _type_problems(
            self, product, "column", self.column, frozenset({ColumnType.varchar}), "varchar"
        )


@register_rule_kind
class Between(_ColumnRule):
    type: Literal["between"]
    min: float | dt.date | dt.datetime | None = None
    max: float | dt.date | dt.datetime | None = None
    dimension = "conformity"

    def default_description(self) -> str:
        return f"{self.column} lies between {_bound(self.min)} and {_bound(self.max)}."

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        parts = []
        if self.min is not None:
            parts.append(f"{_col(self)} < {sql_value(self.min)}")
        if self.max is not None:
            parts.append(f"{_col(self)} > {sql_value(self.max)}")
        return " OR ".join(parts) or None

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectColumnValuesToBeBetween",
            {
                "column": self.column,
                "min_value": self.min,
                "max_value": self.max,
                **self._row_level(),
            },
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        # ODCS's library has no range metric; the quarantine predicate is the rule in SQL.
        failing = self.row_predicate(product, _ANY_DAY)
        if failing is None:
            return None
        return _odcs_sql(failing, self.threshold, f"{_col(self)} IS NOT NULL")

    def spec_problems(self, product: Product) -> list[tuple[str, str, str]]:
        """The column is numeric or a date, and each bound is of the same kind."""
        wrong = _type_problems(
            self, product, "column", self.column, _NUMERIC | _TEMPORAL, "numeric, date or timestamp"
        )
        published = product.published(self.column)
        if wrong or published is None:
            return wrong
        temporal = published.type in _TEMPORAL
        for name in ("min", "max"):
            bound = getattr(self, name)
            if bound is None or isinstance(bound, dt.date) == temporal:
                continue
            wanted = "a date such as 2020-01-01" if temporal else "a number"
            wrong.append(
                (
                    name,
                    f"{bound!s} does not fit column '{self.column}' ({published.type})",
                    f"give {wanted}",
                )
            )
        return wrong


@register_rule_kind
class GreaterOrEqual(_ColumnRule):
    """``column >= other`` on every row where both are present (e.g. end after start)."""

    type: Literal["greater_or_equal"]
    other: str
    dimension = "consistency"

    def columns_used(self) -> list[str]:
        return [self.column, self.other]

    def default_description(self) -> str:
        return f"{self.column} is not before {self.other}."

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        return f"{_col(self)} < {quote_ident(self.other)}"

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": self.column,
                "column_B": self.other,
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
                **self._row_level(),
            },
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        both = f"{_col(self)} IS NOT NULL AND {quote_ident(self.other)} IS NOT NULL"
        return _odcs_sql(f"{_col(self)} < {quote_ident(self.other)}", self.threshold, both)

    def spec_problems(self, product: Product) -> list[tuple[str, str, str]]:
        """Both columns of one kind: numbers with numbers, dates/timestamps with dates."""
        first = product.published(self.column)
        for family, what in ((_NUMERIC, "numeric"), (_TEMPORAL, "date or timestamp")):
            if first is not None and first.type in family:
                return _type_problems(self, product, "other", self.other, family, what)
        return _type_problems(
            self, product, "column", self.column, _NUMERIC | _TEMPORAL, "numeric, date or timestamp"
        )


@register_rule_kind
class RowCountBetween(_Rule):
    type: Literal["row_count_between"]
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    dimension = "completeness"

    def default_description(self) -> str:
        return f"The table has between {_bound(self.min)} and {_bound(self.max)} rows."

    row_predicate = not_applicable

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectTableRowCountToBeBetween",
            {"min_value": self.min, "max_value": self.max},
            counts_rows=True,
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        check: OdcsCheck = {"type": "library", "metric": "rowCount"}
        if self.min is not None and self.max is not None:
            check["mustBeBetween"] = [self.min, self.max]
        elif self.max is not None:
            check["mustBeLessOrEqualTo"] = self.max
        else:
            check["mustBeGreaterOrEqualTo"] = self.min or 0
        return check


@register_rule_kind
class ForeignKey(_ColumnRule):
    """Every value of ``column`` exists in ``reference_column`` of another product."""

    type: Literal["foreign_key"]
    references: str = Field(description="Product id, `<domain>/<product>`.")
    reference_column: str
    dimension = "consistency"

    def default_description(self) -> str:
        return f"Every {self.column} exists in {self.references}.{self.reference_column}."

    row_predicate = not_applicable
    expectation = not_applicable

    def cross_check(self, ctx: CrossContext) -> CrossOutcome | None:
        """Share of non-null ``column`` values with no match in the referenced product."""
        target = ctx.table(self.references)
        if target is None:
            return _missing_reference(self.references)
        col, ref_col = quote_ident(self.column), quote_ident(self.reference_column)
        return ctx.judged(
            self.threshold,
            f"""SELECT count(s.{col}), count(s.{col}) FILTER (WHERE r.k IS NULL)
                FROM {ctx.staged} s
                LEFT JOIN (SELECT DISTINCT {ref_col} AS k FROM {target}) r ON s.{col} = r.k""",
        )

    def reference(self) -> tuple[str, str] | None:
        return self.references, self.reference_column

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        """Values with no match in the referenced product, which the same server holds."""
        failing = (
            f"NOT EXISTS (SELECT 1 FROM {_odcs_table(self.references)} r "
            f"WHERE r.{quote_ident(self.reference_column)} = {ODCS_TABLE}.{_col(self)})"
        )
        return _odcs_sql(failing, self.threshold, f"{_col(self)} IS NOT NULL")


@register_rule_kind
class NotInFuture(_ColumnRule):
    type: Literal["not_in_future"]
    dimension = "accuracy"

    def default_description(self) -> str:
        return f"{self.column} is not after the delivery date."

    def row_predicate(self, product: Product, day: dt.date) -> str | None:
        return f"CAST({_col(self)} AS DATE) > {sql_value(day)}"

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        """Values on or before ``day``; a timestamp anywhere on that day is still "not future".

        Matches the quarantine predicate ``CAST(col AS DATE) > day``.
        """
        if _published_type(product, self.column) is ColumnType.timestamp:
            next_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
            bound: dict[str, object] = {"max_value": next_day, "strict_max": True}
        else:
            bound = {"max_value": day}
        return Expectation(
            "ExpectColumnValuesToBeBetween", {"column": self.column, **bound, **self._row_level()}
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        # The consumer's today stands in for the delivery date the platform checks against.
        return _odcs_sql(f"CAST({_col(self)} AS DATE) > current_date", self.threshold)

    def spec_problems(self, product: Product) -> list[tuple[str, str, str]]:
        return _type_problems(self, product, "column", self.column, _TEMPORAL, "date or timestamp")


@register_rule_kind
class NotAfterDeath(_ColumnRule):
    """Event dates must not fall after the person's death (month precision)."""

    type: Literal["not_after_death"]
    person_column: str = "person_key"
    population: str = Field("population/persons", description="Product holding death dates.")
    death_column: str = "death_month"
    dimension = "accuracy"

    def columns_used(self) -> list[str]:
        return [self.column, self.person_column]

    def spec_problems(self, product: Product) -> list[tuple[str, str, str]]:
        return _type_problems(self, product, "column", self.column, _TEMPORAL, "date or timestamp")

    def default_description(self) -> str:
        return f"{self.column} is not after the person's death ({self.population})."

    row_predicate = not_applicable
    expectation = not_applicable

    def cross_check(self, ctx: CrossContext) -> CrossOutcome | None:
        """Rows whose event month lies after the person's death month.

        Death is known to the month only, so an event in the month of death passes.
        Rows without a date or person are not judged (other rules cover them).
        """
        target = ctx.table(self.population)
        if target is None:
            return _missing_reference(self.population)
        col, person = quote_ident(self.column), quote_ident(self.person_column)
        death = quote_ident(self.death_column)
        return ctx.judged(
            self.threshold,
            f"""SELECT count(*) FILTER (WHERE s.{col} IS NOT NULL AND s.{person} IS NOT NULL),
                       count(*) FILTER (WHERE d.death IS NOT NULL
                                        AND date_trunc('month', s.{col}) > d.death)
                FROM {ctx.staged} s
                LEFT JOIN (SELECT person_key AS k, max(date_trunc('month', {death})) AS death
                           FROM {target} GROUP BY 1) d ON s.{person} = d.k""",
        )

    def reference(self) -> tuple[str, str] | None:
        return self.population, self.death_column

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        """Rows dated after the person's death month, as :meth:`cross_check` counts them."""
        col, person = _col(self), quote_ident(self.person_column)
        death = (
            f"(SELECT max(date_trunc('month', d.{quote_ident(self.death_column)})) "
            f"FROM {_odcs_table(self.population)} d WHERE d.person_key = {ODCS_TABLE}.{person})"
        )
        return _odcs_sql(
            f"date_trunc('month', {col}) > coalesce({death}, DATE '9999-12-31')",
            self.threshold,
            f"{col} IS NOT NULL AND {person} IS NOT NULL",
        )


@register_rule_kind
class Completeness(_ColumnRule):
    """At most ``max_null_share`` of the rows may be null."""

    type: Literal["completeness"]
    max_null_share: float = Field(ge=0.0, le=1.0)
    dimension = "completeness"

    def default_description(self) -> str:
        return f"At most {self.max_null_share:.0%} of {self.column} is empty."

    row_predicate = not_applicable  # a share of rows, not a property of one row

    def expectation(self, product: Product, day: dt.date) -> Expectation | None:
        share = max(self.max_null_share, self.threshold)
        return Expectation(
            "ExpectColumnValuesToNotBeNull",
            {"column": self.column, "mostly": mostly(share)},
            allowed=self.max_null_share,
            skips_empty=False,
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        return _odcs_library("nullValues", max(self.max_null_share, self.threshold))


@register_rule_kind
class Freshness(_Rule):
    """The newest loaded extract is at most ``max_age_days`` old."""

    type: Literal["freshness"]
    max_age_days: int = Field(ge=0)
    dimension = "timeliness"

    def default_description(self) -> str:
        return f"Deliveries arrive at most {self.max_age_days} days apart."

    row_predicate = not_applicable
    expectation = not_applicable

    def cross_check(self, ctx: CrossContext) -> CrossOutcome | None:
        """Days between this delivery and the newest one loaded before it.

        At audit time the question is "how stale had this product become when
        this delivery arrived?" (see :mod:`quality.cross_checks`).
        """
        if ctx.product.source is None:
            return CrossOutcome(
                Status.errored,
                detail="check could not run: freshness applies to products loaded from "
                "extracts, not derived products",
            )
        previous = ctx.newest_loaded(ctx.product.ref)
        day = ctx.reference_date
        if previous is None:
            return CrossOutcome(
                Status.passed, detail=f"first delivery ({day}); nothing to compare with"
            )
        gap = max(0, (day - previous).days)
        return CrossOutcome(
            Status.passed if gap <= self.max_age_days else Status.failed,
            detail=(
                f"previous extract {previous}, this delivery {day}: {gap} days apart; "
                f"allowed {self.max_age_days}"
            ),
        )

    reference = not_applicable

    def odcs_check(self, product: Product) -> OdcsCheck | None:
        # The gap between deliveries is in the platform's load log, not in the table:
        # a consumer cannot measure it (the SLA's latency says the same in words).
        return None


#: A quality rule of any registered type (the spec's ``quality`` items).
QualityRule = rule_union()
