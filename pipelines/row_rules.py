"""SQL predicates for the row-level rules a steward marks ``quarantine: true``.

These rows are moved out of ``staged`` before the audit; Great Expectations
still evaluates the same rule on what remains, so the rule keeps one meaning.
"""

from __future__ import annotations

import datetime as dt

from regionlab import codelists
from regionlab.spec import Product
from regionlab.spec.rules import (
    Between,
    GreaterOrEqual,
    InCodeList,
    InSet,
    NotInFuture,
    NotNull,
    Regex,
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def failing_predicate(rule: object, product: Product, reference_date: dt.date) -> str | None:
    """A WHERE clause selecting the rows that fail ``rule``, or None if it is not row-level."""
    if isinstance(rule, NotNull):
        return f"{_q(rule.column)} IS NULL"
    col = _q(getattr(rule, "column", ""))
    if isinstance(rule, InSet):
        return f"{col} NOT IN ({', '.join(_lit(v) for v in rule.values)})"
    if isinstance(rule, InCodeList):
        system = rule.code_system or product.published(rule.column).code_system  # type: ignore[union-attr]
        codes = ", ".join(_lit(c) for c in sorted(codelists.codes(system.value)))
        return f"{col} NOT IN ({codes})"
    if isinstance(rule, Regex):
        return f"NOT regexp_full_match({col}, {_lit(rule.pattern)})"
    if isinstance(rule, Between):
        parts = []
        if rule.min is not None:
            parts.append(f"{col} < {_lit(rule.min)}")
        if rule.max is not None:
            parts.append(f"{col} > {_lit(rule.max)}")
        return " OR ".join(parts) or None
    if isinstance(rule, GreaterOrEqual):
        return f"{col} < {_q(rule.other)}"
    if isinstance(rule, NotInFuture):
        return f"CAST({col} AS DATE) > {_lit(reference_date)}"
    return None
