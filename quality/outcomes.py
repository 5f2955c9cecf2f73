"""Turn a rule's outcome (from GX or a cross-check) into the platform's ``CheckResult``.

Kept apart from the GX runner so the privacy gates, GX rules and SQL
cross-checks all end up with the same fields, wording and guarantees: an error
stays ``errored`` (never a silent pass or fail), and ``detail`` holds counts in
words, never values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regionlab.results import CheckResult, Status
from regionlab.spec.rule_kinds import Expectation, count_detail

if TYPE_CHECKING:  # GX takes seconds to import; only the audit step needs it
    from quality.runner import ExpectationOutcome

__all__ = ["count_detail", "describe", "from_outcome", "result"]


def describe(rule: Any) -> str:
    """The steward's description, or the one the rule type generates."""
    if rule.description:
        return " ".join(rule.description.split())
    return rule.default_description()


def from_outcome(rule: Any, outcome: ExpectationOutcome, declared: Expectation) -> CheckResult:
    """A GX outcome (already stripped of values by the runner) as the rule's CheckResult.

    ``declared`` is the rule type's expectation: it says how to read the counts.
    """
    status = Status(outcome.status)
    if status is Status.errored:
        detail = f"check could not run: {outcome.error or 'GX raised an exception'}"
    elif declared.counts_rows:
        detail = f"{outcome.element_count} rows" if outcome.element_count is not None else ""
    else:
        allowed = rule.threshold if declared.allowed is None else declared.allowed
        skipped = (outcome.missing_count or 0) if declared.skips_empty else 0
        detail = count_detail(
            outcome.unexpected_count, outcome.element_count, allowed, not_judged=skipped
        )
    return result(
        rule,
        status,
        unexpected_count=None if declared.counts_rows else outcome.unexpected_count,
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
