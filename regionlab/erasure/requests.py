"""Erasure requests: CPR numbers from a file or standard input, never from the command line.

A command line ends up in shell history and in every user's process list, so
the CLI takes CPR numbers only from a file or a pipe. Lines are one CPR each
(``DDMMYY-SSSS``, or with any other separator :mod:`regionlab.privacy.identifiers`
accepts); blank lines and lines starting with ``#`` are ignored. A bad line is
reported by its number, never by its content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from regionlab.errors import UserError
from regionlab.privacy.identifiers import contains_cpr, normalise_cpr

#: A request id becomes a file name (the receipt), so it is kept to a safe alphabet.
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_REASON = 500


@dataclass(frozen=True)
class ErasureRequest:
    """One request: who asked (id), why, and the CPR numbers (kept out of repr)."""

    request_id: str
    reason: str
    cprs: tuple[str, ...] = field(repr=False)


def check_request_id(request_id: str) -> str:
    if not REQUEST_ID.match(request_id or ""):
        raise UserError(
            "--request-id must be 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. R-2026-017); it names the receipt file"
        )
    if contains_cpr(request_id):
        raise UserError(
            "--request-id looks like a CPR number; use the case number of the request instead"
        )
    return request_id


def check_reason(reason: str) -> str:
    """The reason goes into the receipt and register, so it must not identify the person."""
    reason = (reason or "").strip()
    if not reason:
        raise UserError('--reason is required, e.g. --reason "indsigelse (GDPR art. 21)"')
    if len(reason) > MAX_REASON:
        raise UserError(f"--reason is longer than {MAX_REASON} characters; shorten it")
    if contains_cpr(reason):
        raise UserError(
            "--reason contains something shaped like a CPR number; the reason is kept in the "
            "receipt and the erasure register, so describe the request without identifiers"
        )
    return reason


def parse_cprs(lines: Iterable[str], source: str) -> tuple[str, ...]:
    """Normalised, de-duplicated CPR numbers in input order."""
    seen: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        normalised = normalise_cpr(text)
        if normalised is None:
            raise UserError(
                f"{source} line {number}: not a CPR number (expected DDMMYY-SSSS or "
                "DDMMYYSSSS, one per line); fix or remove the line"
            )
        seen.setdefault(normalised, None)
    if not seen:
        raise UserError(f"{source} holds no CPR numbers (one per line, DDMMYY-SSSS or DDMMYYSSSS)")
    return tuple(seen)


def read_cpr_file(path: Path) -> tuple[str, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"--from-file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"cannot read --from-file {path} ({type(exc).__name__}); it must be UTF-8 text "
            "with one CPR number per line"
        ) from None
    return parse_cprs(text.splitlines(), str(path))


def read_cpr_stream(stream: TextIO) -> tuple[str, ...]:
    return parse_cprs(stream.read().splitlines(), "standard input")


def make_request(request_id: str, reason: str, cprs: Iterable[str]) -> ErasureRequest:
    """A checked request (for callers that already hold the CPR numbers, e.g. tests)."""
    return ErasureRequest(
        request_id=check_request_id(request_id),
        reason=check_reason(reason),
        cprs=parse_cprs(list(cprs), "request"),
    )
