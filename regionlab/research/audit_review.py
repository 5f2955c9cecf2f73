"""The access officer's view of a user's series of queries: what each asked, what changed.

Differencing shows up as a series of near-identical definitions (50–70, then
55–70; the same cohort plus ``sex: K``). Each feasibility entry is summarised
as its criteria in one line, and compared with the same user's previous query,
so the one bound or filter that moved stands out. Only the definition, the
dimensions and the answer's shape are shown — never a count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from regionlab.research.audit_store import FEASIBILITY, AuditEntry

#: Free text a researcher chose; it does not change who is counted.
_NOT_CRITERIA = frozenset({"title", "description"})


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"age": {"min": 50}, "include": [{"codes": ["DE11"]}]}`` →
    ``{"age.min": 50, "include[0].codes": ["DE11"]}``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value):
            if not prefix and key in _NOT_CRITERIA:
                continue
            out |= flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        out = {}
        for i, item in enumerate(value):
            out |= flatten(item, f"{prefix}[{i}]")
        return out
    return {prefix: value}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def summarise(definition: dict[str, Any]) -> str:
    """The criteria in one line, leaving out what is empty or off."""
    parts = [
        f"{path}={_text(v)}"
        for path, v in flatten(definition).items()
        if v not in (None, False, [], {}, "")
    ]
    return "; ".join(parts) or "(everyone)"


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Each criterion that differs: ``age.min 50→55``, ``+sex ["K"]``, ``-exclude[0].codes``."""
    old, new = flatten(before), flatten(after)
    out = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            out.append(f"-{path}")
        elif path not in old:
            out.append(f"+{path} {_text(new[path])}")
        elif old[path] != new[path]:
            out.append(f"{path} {_text(old[path])}→{_text(new[path])}")
    return out


@dataclass(frozen=True)
class ReviewRow:
    """One line of ``regionlab audit show``."""

    entry: str
    at: datetime
    user: str
    action: str
    project: str
    what: str
    """The definition (first query, or after a change of user) or what changed."""
    dimensions: str
    answer: str
    """The answer's shape: total as shown, cells and how many were hidden."""
    outcome: str
    """``answered``, ``refused: <reason>`` or the event's subject."""


def _shape(data: dict[str, Any]) -> str:
    answer, supp = data.get("answer") or {}, data.get("suppression") or {}
    total = answer.get("total", "?")
    if not answer.get("cells"):
        return f"total {total}"
    return f"total {total}; {supp.get('cells', '?')} cells, {supp.get('hidden', '?')} hidden"


def review(entries: Iterable[AuditEntry]) -> list[ReviewRow]:
    """Rows for the officer, each query compared with the same user's previous one."""
    previous: dict[str, dict[str, Any]] = {}
    rows = []
    for e in entries:
        if e.action != FEASIBILITY:
            details = {  # a digest says nothing to a reader: its first 12 characters do
                k: v[:12] if k.endswith("sha256") and isinstance(v, str) else v
                for k, v in (e.data.get("details") or {}).items()
            }
            rows.append(
                ReviewRow(
                    e.id,
                    e.at,
                    e.user,
                    e.action,
                    e.project or "",
                    summarise(details),
                    "",
                    "",
                    e.subject or "",
                )  # fmt: skip
            )
            continue
        definition = e.data.get("definition") or {}
        before = previous.get(e.user)
        if before is None:
            what = summarise(definition)
        else:
            diff = changes(before, definition)
            what = "changed: " + ", ".join(diff) if diff else "same definition as before"
        previous[e.user] = definition
        refused = e.data.get("refused")
        rows.append(
            ReviewRow(
                entry=e.id,
                at=e.at,
                user=e.user,
                action=e.action,
                project=e.project or "",
                what=what,
                dimensions=", ".join(e.data.get("dimensions") or []) or "-",
                answer="-" if refused else _shape(e.data),
                outcome=f"refused: {refused}" if refused else "answered",
            )
        )
    return rows


__all__ = ["ReviewRow", "changes", "flatten", "review", "summarise"]
