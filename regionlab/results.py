"""Check results shared by the privacy audit, the quality suites and the catalogue.

A result carries counts and the rule's description only: never row values,
so it can be written to logs, Dagster metadata, the quality history and
DataHub without leaking pseudonyms or clinical values.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Status(StrEnum):
    passed = "passed"
    failed = "failed"
    errored = "errored"


class CheckResult(BaseModel):
    check: str  # unique name within the product, used as the Dagster asset-check name
    category: str  # conformance | completeness | plausibility | privacy | reconciliation
    severity: str  # blocking | warning
    status: Status
    description: str = ""
    unexpected_count: int | None = None
    element_count: int | None = None
    detail: str = ""  # counts and reasons in words; never values
    unit: str = "rows"  # what the two counts count (rows; columns for the identifier gate)

    @property
    def passed(self) -> bool:
        return self.status is Status.passed

    @property
    def blocks(self) -> bool:
        """A blocking rule that did not pass (failed or errored) stops the publish."""
        return self.severity == "blocking" and not self.passed

    def explain(self) -> str:
        """One line for a person: the rule, failing rows out of the total, and why.

        Made of the check's name, counts and detail only (never values), so it may go to
        the run table, Dagster's event log and a steward's terminal.
        """
        if self.status is Status.errored:
            reason = self.detail or "could not run"
            return f"{self.check} ({self.severity}): {reason}"
        if self.unexpected_count is not None and self.element_count is not None:
            outcome = f"{self.unexpected_count} of {self.element_count} {self.unit} fail"
        else:
            outcome = "failed"
        parts = [f"{self.check} ({self.severity}): {outcome}"]
        if self.detail:
            parts.append(self.detail)
        elif self.description:
            parts.append(self.description)
        return "; ".join(parts)


def explain_blocked(product_ref: str, checks: list[CheckResult]) -> str:
    """Why an audit blocked a publish, and where a steward looks next."""
    failed = [c for c in checks if c.blocks]
    rules = " | ".join(c.explain() for c in failed) or "a blocking check did not pass"
    return (
        f"audit failed: {rules}. Nothing was published; the previous snapshot stays current. "
        f"Look at `regionlab catalog show {product_ref}` (every rule's counts) and "
        f"`regionlab quarantine show {product_ref}` (rows set aside, by reason)"
    )
