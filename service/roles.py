"""The roles a person can hold towards the platform, and what each is for."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """One role per token; the role matrix (``docs/access.md``) says what each may call."""

    researcher = "researcher"
    """Asks feasibility counts, applies for permits, works in permitted workspaces."""
    steward = "steward"
    """Owns a domain's data products: runs, quarantine, quality."""
    labeller = "labeller"
    """Annotates product samples in Label Studio."""
    strategy = "strategy"
    """Browses the catalogue and aggregate status; no counts on cohorts."""
    access_officer = "access-officer"
    """Approves or refuses permit applications; lifts query lockouts; reviews the audit."""
    output_checker = "output-checker"
    """Checks results leaving a workspace through the airlock."""
    dpo = "dpo"
    """The data protection officer: reads and verifies the audit store."""


ALL_ROLES: tuple[Role, ...] = tuple(Role)

__all__ = ["ALL_ROLES", "Role"]
