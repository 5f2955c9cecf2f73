"""Turn a rule's outcome (from GX or a cross-check) into the platform's ``CheckResult``.

Kept apart from the GX runner so the privacy gates, GX rules and SQL
cross-checks all end up with the same fields, wording and guarantees: an error
stays ``errored`` (never a silent pass or fail), and ``detail`` holds counts in
words, never values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regionlab.results import CheckResult, Status
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

if TYPE_CHECKING:  # GX takes seconds to import; only the audit step needs it
    from quality.runner import ExpectationOutcome


def describe(rule: Any) -> str:
    """The steward's description, or a generated one naming what the rule checks."""
    if rule.description:
        return " ".join(rule.description.split())
    return _generated(rule)


def _generated(rule: Any) -> str:  # noqa: PLR0911
    col = getattr(rule, "column", "")
    if isinstance(rule, NotNull):
        return f"{col} is never empty."
    if isinstance(rule, Completeness):
        return f"At most {rule.max_null_share:.0%} of {col} is empty."
    if isinstance(rule, Unique):
        return f"{col} is unique."
    if isinstance(rule, UniqueCombination):
        return f"The combination of {', '.join(rule.columns)} is unique."
    if isinstance(rule, InSet):
        return f"{col} is one of the allowed values."
    if isinstance(rule, InCodeList):
        system = rule.code_system.value if rule.code_system else "the column's code system"
        return f"{col} is a code in {system}."
    if isinstance(rule, Regex):
        return f"{col} has the expected format."
    if isinstance(rule, Between):
        return f"{col} lies between {_bound(rule.min)} and {_bound(rule.max)}."
    if isinstance(rule, GreaterOrEqual):
        return f"{col} is not before {rule.other}."
    if isinstance(rule, RowCountBetween):
        return f"The table has between {_bound(rule.min)} and {_bound(rule.max)} rows."
    if isinstance(rule, NotInFuture):
        return f"{col} is not after the delivery date."
    if isinstance(rule, NotAfterDeath):
        return f"{col} is not after the person's death ({rule.population})."
    if isinstance(rule, ForeignKey):
        return f"Every {col} exists in {rule.references}.{rule.reference_column}."
    if isinstance(rule, Freshness):
        return f"Deliveries arrive at most {rule.max_age_days} days apart."
    return rule.id


def _bound(value: object) -> str:
    return "any" if value is None else str(value)


def count_detail(
    unexpected: int | None,
    element_count: int | None,
    threshold: float,
    *,
    not_judged: int = 0,
) -> str:
    """ "3 of 1200 rows fail (0.25%); allowed 2.00%" — numbers only.

    ``not_judged`` rows (empty values a rule skips) are left out of the share,
    as GX leaves them out of ``mostly``.
    """
    if unexpected is None or element_count is None:
        return ""
    judged = element_count - not_judged
    share = unexpected / judged if judged else 0.0
    if not_judged:
        text = f"{unexpected} of {judged} non-empty values fail ({share:.2%}; {element_count} rows)"
    else:
        text = f"{unexpected} of {element_count} rows fail ({share:.2%})"
    if threshold > 0:
        text += f"; allowed {threshold:.2%}"
    return text


def from_outcome(rule: Any, outcome: ExpectationOutcome) -> CheckResult:
    """A GX outcome (already stripped of values by the runner) as the rule's CheckResult."""
    status = Status(outcome.status)
    if status is Status.errored:
        detail = f"check could not run: {outcome.error or 'GX raised an exception'}"
    elif isinstance(rule, RowCountBetween):
        detail = f"{outcome.element_count} rows" if outcome.element_count is not None else ""
    else:
        threshold = rule.max_null_share if isinstance(rule, Completeness) else rule.threshold
        skipped = 0 if isinstance(rule, NotNull | Completeness) else outcome.missing_count or 0
        detail = count_detail(
            outcome.unexpected_count, outcome.element_count, threshold, not_judged=skipped
        )
    return result(
        rule,
        status,
        unexpected_count=None if isinstance(rule, RowCountBetween) else outcome.unexpected_count,
        element_count=outcome.element_count,
        detail=detail,
    )


def result(
    rule: Any,
    status: Status,
    *,
    unexpected_count: int | None = None,
    element_count: int | None = None,
    detail: str = "",
) -> CheckResult:
    return CheckResult(
        check=rule.id,
        category=rule.kahn.value,
        severity=rule.severity.value,
        status=status,
        description=describe(rule),
        unexpected_count=unexpected_count,
        element_count=element_count,
        detail=detail,
    )
