"""An independent CPR validator for the tests (the official 7th-digit century table)."""

from __future__ import annotations

import re
from datetime import date

WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def century(yy: int, d7: int) -> int:
    if d7 <= 3:
        return 1900
    if d7 in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def birth_date(cpr: str) -> date | None:
    """The birth date a CPR encodes, or None when it is not a valid CPR."""
    if not re.fullmatch(r"\d{6}-\d{4}", cpr):
        return None
    dd, mm, yy, d7 = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6]), int(cpr[7])
    try:
        return date(century(yy, d7) + yy, mm, dd)
    except ValueError:
        return None


def mod11(cpr: str) -> bool:
    digits = [int(c) for c in cpr.replace("-", "")]
    return sum(w * d for w, d in zip(WEIGHTS, digits, strict=True)) % 11 == 0
