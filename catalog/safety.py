"""A last line of defence: text that looks like it holds a value never reaches the catalogue.

Check results are meant to carry counts only, and the emission never copies a
result's ``detail``. Descriptions come from the specs; a description that
arrives with a result instead (privacy checks, reconciliation) is screened
here, and replaced by a neutral text if it contains something shaped like a
CPR number, a pseudonym (64 hex characters), a key or a phone number.
"""

from __future__ import annotations

import re

_VALUE_SHAPES = re.compile(
    r"""
      \b\d{6}-?\d{4}\b            # CPR number, with or without the dash
    | \b[0-9a-fA-F]{32,}\b        # pseudonyms (64 hex), keys and other long hashes
    | (?:\+45[\s-]?)?\b\d{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?\d{2}\b   # Danish phone numbers
    | ['"][^'"]{1,80}['"]         # quoted literals (values copied into a message)
    """,
    re.VERBOSE,
)

WITHHELD = "(beskrivelse tilbageholdt: indeholdt noget, der ligner en værdi)"


def looks_like_values(text: str) -> bool:
    return bool(_VALUE_SHAPES.search(text))


def safe_text(text: str | None, fallback: str = WITHHELD) -> str | None:
    """``text`` unchanged when it holds no value-shaped token, else ``fallback``."""
    if not text:
        return text
    return fallback if looks_like_values(text) else text
