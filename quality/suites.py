"""A product's quality rules as Great Expectations 1.x expectations: one rule, one expectation.

The steward writes a rule once in the product YAML; this module is the only
place that knows how each rule type reads in GX. Rules GX cannot express on
the one staged table (foreign keys, dates after death, extract freshness) are
not translated here: :mod:`quality.cross_checks` runs them as SQL (see its
docstring for why they are not GX ``UnexpectedRowsExpectation``\\ s).

Thresholds: a rule's ``threshold`` is the share of rows allowed to fail, so
row-level expectations get ``mostly = 1 - threshold``. GX judges ``mostly``
against the rows the rule applies to (non-null values; for column pairs the
rows where both are present; all rows for not-null and completeness).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import great_expectations.expectations as gxe
from great_expectations.expectations import Expectation

from regionlab import codelists
from regionlab.errors import UserError
from regionlab.spec import Product
from regionlab.spec.rules import (
    Between,
    Completeness,
    ForeignKey,
    Freshness,
    GreaterOrEqual,
    InCodeList,
    InSet,
    NotAfterDeath,
    NotInFuture,
    NotNull,
    Regex,
    RowCountBetween,
    Unique,
    UniqueCombination,
)
from regionlab.spec.vocab import ColumnType

#: Rule types that need another table (the lake) or the load log: see quality.cross_checks.
CROSS_RULES = (ForeignKey, NotAfterDeath, Freshness)

#: Subtracted from ``mostly`` so a failure share exactly at the threshold passes even
#: when ``1 - threshold`` rounds up in binary floating point (e.g. 1 - 0.07). Far
#: below one row in a billion, far above float rounding (~1e-16).
_MOSTLY_EPSILON = 1e-12


@dataclass(frozen=True)
class RuleExpectation:
    """A rule and the GX expectation that checks it."""

    rule: Any
    expectation: Expectation


def is_cross_rule(rule: object) -> bool:
    """True for rules checked by SQL over the lake instead of GX."""
    return isinstance(rule, CROSS_RULES)


def mostly(threshold: float) -> float:
    """GX ``mostly`` for a rule threshold (share of rows allowed to fail)."""
    if threshold <= 0:
        return 1.0
    return max(0.0, 1.0 - threshold - _MOSTLY_EPSILON)


def expectations(product: Product, reference_date: dt.date) -> list[RuleExpectation]:
    """The GX expectations of every GX-expressible rule of ``product``, in spec order.

    ``reference_date`` is the newest extract date of the run: "the future" starts
    the day after it, so a re-run of an old delivery judges it the same way.
    """
    return [
        RuleExpectation(rule, _expectation(rule, product, reference_date))
        for rule in product.quality
        if not is_cross_rule(rule)
    ]


def suite(product: Product, reference_date: dt.date) -> Any:
    """The product's rules as a named ``gx.ExpectationSuite`` (for export and inspection)."""
    import great_expectations as gx

    built = gx.ExpectationSuite(name=suite_name(product))
    for item in expectations(product, reference_date):
        built.add_expectation(item.expectation.copy(update={"id": None}))
    return built


def suite_name(product: Product) -> str:
    return f"{product.domain}.{product.id}"


def _meta(rule: Any) -> dict[str, Any]:
    """Rule identity carried on the expectation, so a GX result can be traced to its rule."""
    return {"rule_id": rule.id, "kahn": rule.kahn.value, "severity": rule.severity.value}


def _column_type(product: Product, column: str) -> ColumnType:
    published = product.published(column)
    if published is None:
        raise UserError(
            f"{product.ref}: quality rule refers to column {column!r}, which is not a "
            "published column; fix the rule's column name"
        )
    return published.type


def _expectation(rule: Any, product: Product, reference_date: dt.date) -> Expectation:  # noqa: C901, PLR0911
    meta = _meta(rule)
    row_level = {"mostly": mostly(rule.threshold), "meta": meta}
    if isinstance(rule, NotNull):
        return gxe.ExpectColumnValuesToNotBeNull(column=rule.column, **row_level)
    if isinstance(rule, Completeness):
        share = max(rule.max_null_share, rule.threshold)
        return gxe.ExpectColumnValuesToNotBeNull(
            column=rule.column, mostly=mostly(share), meta=meta
        )
    if isinstance(rule, Unique):
        return gxe.ExpectColumnValuesToBeUnique(column=rule.column, **row_level)
    if isinstance(rule, UniqueCombination):
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(rule.columns), **row_level)
    if isinstance(rule, InSet):
        return gxe.ExpectColumnValuesToBeInSet(
            column=rule.column, value_set=list(rule.values), **row_level
        )
    if isinstance(rule, InCodeList):
        system = rule.code_system or product.published(rule.column).code_system  # type: ignore[union-attr]
        if system is None:
            raise UserError(
                f"{product.ref}: rule {rule.id!r} needs a code_system (on the rule or on "
                f"column {rule.column!r})"
            )
        return gxe.ExpectColumnValuesToBeInSet(
            column=rule.column, value_set=sorted(codelists.codes(system.value)), **row_level
        )
    if isinstance(rule, Regex):
        # Full-match, as the quarantine predicate (regexp_full_match) reads the rule;
        # the shim makes GX *search*, so anchor the whole pattern.
        return gxe.ExpectColumnValuesToMatchRegex(
            column=rule.column, regex=f"^(?:{rule.pattern})$", **row_level
        )
    if isinstance(rule, Between):
        return gxe.ExpectColumnValuesToBeBetween(
            column=rule.column, min_value=rule.min, max_value=rule.max, **row_level
        )
    if isinstance(rule, NotInFuture):
        return _not_after(
            rule.column, _column_type(product, rule.column), reference_date, row_level
        )
    if isinstance(rule, GreaterOrEqual):
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.column,
            column_B=rule.other,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **row_level,
        )
    if isinstance(rule, RowCountBetween):
        return gxe.ExpectTableRowCountToBeBetween(min_value=rule.min, max_value=rule.max, meta=meta)
    raise TypeError(f"no GX expectation for rule type {type(rule).__name__}")


def _not_after(
    column: str, column_type: ColumnType, day: dt.date, row_level: dict[str, Any]
) -> Expectation:
    """Values on or before ``day``; a timestamp anywhere on that day is still "not future".

    Matches the quarantine predicate ``CAST(col AS DATE) > day``.
    """
    if column_type is ColumnType.timestamp:
        next_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        return gxe.ExpectColumnValuesToBeBetween(
            column=column, max_value=next_day, strict_max=True, **row_level
        )
    return gxe.ExpectColumnValuesToBeBetween(column=column, max_value=day, **row_level)
