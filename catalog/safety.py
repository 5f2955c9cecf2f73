"""A last line of defence: text that looks like it holds a value never reaches the catalogue.

Check results are meant to carry counts only, and the emission never copies a
result's ``detail``. Descriptions come from the specs; a description that
arrives with a result instead (privacy checks, reconciliation) is screened
here, and replaced by a neutral text if it contains something shaped like a
CPR number (any separator), a phone number, an e-mail address, a pseudonym (64 hex
characters) or a key.
"""

from __future__ import annotations

import re

from regionlab.privacy.identifiers import CPR, EMAIL, PHONE

_OTHER_VALUES = re.compile(
    r"""
      \b[0-9a-fA-F]{32,}\b        # pseudonyms (64 hex), keys and other long hashes
    | ['"][^'"]{1,80}['"]         # quoted literals (values copied into a message)
    """,
    re.VERBOSE,
)
#: Identifier shapes come from their one owner (CPR with any separator, every phone grouping).
_IDENTIFIER_SHAPES = (CPR, PHONE, EMAIL)

WITHHELD = "(beskrivelse tilbageholdt: indeholdt noget, der ligner en værdi)"


def looks_like_values(text: str) -> bool:
    return any(shape.contains(text) for shape in _IDENTIFIER_SHAPES) or bool(
        _OTHER_VALUES.search(text)
    )


def safe_text(text: str | None, fallback: str = WITHHELD) -> str | None:
    """``text`` unchanged when it holds no value-shaped token, else ``fallback``."""
    if not text:
        return text
    return fallback if looks_like_values(text) else text
