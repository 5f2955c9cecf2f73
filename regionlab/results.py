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

    @property
    def passed(self) -> bool:
        return self.status is Status.passed

    @property
    def blocks(self) -> bool:
        """A blocking rule that did not pass (failed or errored) stops the publish."""
        return self.severity == "blocking" and not self.passed
