"""Each model's validation status for the initiatives board: last result and trend.

Read from ``var/models/<id>/history.jsonl`` (one line per validation: headline
metrics and status), so the CLI and the catalogue site need no lake connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from regionlab.aimodels.card import collect_cards
from regionlab.settings import get_settings

TREND = 5


@dataclass
class BoardRow:
    model_id: str
    title: str
    initiative: str
    status: str | None = None
    validated_at: str | None = None
    snapshot_id: int | None = None
    trend: list[str] = field(default_factory=list)  # statuses, oldest first
    headline: dict[str, float | None] = field(default_factory=dict)
    report: str | None = None  # path of the HTML report


def board() -> list[BoardRow]:
    settings = get_settings()
    cards, _ = collect_cards(settings.model_cards_dir)
    rows = []
    for model_id, c in sorted(cards.items()):
        row = BoardRow(model_id, c.title, c.initiative)
        history = settings.model_report_dir(model_id) / "history.jsonl"
        if history.exists():
            lines = [json.loads(x) for x in history.read_text(encoding="utf-8").splitlines() if x]
            if lines:
                last = lines[-1]
                row.status = last["status"]
                row.validated_at = last["validated_at"]
                row.snapshot_id = last["snapshot_id"]
                row.headline = last["headline"]
                row.trend = [x["status"] for x in lines[-TREND:]]
        html = settings.model_report_dir(model_id) / "report.html"
        row.report = str(html) if html.exists() else None
        rows.append(row)
    return rows
