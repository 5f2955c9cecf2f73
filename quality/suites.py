"""A product's quality rules as Great Expectations 1.x expectations: one rule, one expectation.

The steward writes a rule once in the product YAML; each rule type declares
its expectation (class name and arguments) beside its other projections
(:mod:`regionlab.spec.rules`), and this module builds the GX objects. Rules GX
cannot express on the one staged table (foreign keys, dates after death,
extract freshness) declare a cross-table check instead: :mod:`quality.cross_checks`
runs them as SQL (see its docstring for why they are not GX
``UnexpectedRowsExpectation``\\ s).

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

from regionlab.spec import Product
from regionlab.spec.rule_kinds import Expectation as Declared
from regionlab.spec.rule_kinds import is_cross_rule, mostly

__all__ = ["RuleExpectation", "expectations", "is_cross_rule", "mostly", "suite", "suite_name"]


@dataclass(frozen=True)
class RuleExpectation:
    """A rule and the GX expectation that checks it."""

    rule: Any
    expectation: Expectation
    #: What the rule type declared (how to read the outcome's counts).
    declared: Declared


def expectations(product: Product, reference_date: dt.date) -> list[RuleExpectation]:
    """The GX expectations of every GX-expressible rule of ``product``, in spec order.

    ``reference_date`` is the newest extract date of the run: "the future" starts
    the day after it, so a re-run of an old delivery judges it the same way.
    """
    out = []
    for rule in product.quality:
        if is_cross_rule(rule):
            continue
        declared = rule.expectation(product, reference_date)
        if declared is None:
            raise TypeError(f"no GX expectation for rule type {type(rule).__name__}")
        out.append(RuleExpectation(rule, _build(rule, declared), declared))
    return out


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


def _build(rule: Any, declared: Declared) -> Expectation:
    return getattr(gxe, declared.name)(**declared.kwargs, meta=_meta(rule))
