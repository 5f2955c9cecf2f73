"""Issue 15, finding 2, end to end: notes written the hurried way never reach the lake.

A delivery of notes about one register person writes her CPR number, phone
number, e-mail, address, postcode, names and initials the way the finding
showed them. With the scrubber the notes are published without any of them;
with the scrubber switched off the audit's identifier gate blocks the run.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from regionlab import lake
from regionlab.privacy import scrub
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.wap.engine import run_source_product

NOTES = load_domains().product("clinical_notes/notes")


def _person(sources: Path) -> dict[str, str]:
    """A register person with a phone number and a street address with a house number."""
    newest = sorted((sources / "cpr" / "persons").glob("persons_*.csv"))[-1]
    with newest.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            digits = re.sub(r"[^0-9]", "", row["phone"] or "")
            numbered = re.match(r"^\D+ [0-9]", row["address"] or "")
            names = len(row["first_name"]) >= 3 and len(row["last_name"]) >= 3
            if len(digits) == 8 and numbered and row["cpr"] and names:
                return row | {"phone_digits": digits}
    raise AssertionError("no suitable register person")


def _notes(p: dict[str, str]) -> list[str]:
    first, last, cpr, phone = p["first_name"], p["last_name"], p["cpr"], p["phone_digits"]
    street, number = re.match(r"^(.*?) ([0-9]+)", p["address"]).groups()  # type: ignore[union-attr]
    dotted = f"{cpr[0:2]}.{cpr[2:4]}.{cpr[4:6]}-{cpr[7:11]}"
    return [
        f"cpr {dotted} ses i dag",
        f"{cpr[:6]} – {cpr[7:]} er vurderet",
        f"{cpr[:6]}/{cpr[7:]}",
        f"Tlf. {phone[:2]} {phone[2:4]} {phone[4:]}",
        f"{phone[:4]}-{phone[4:]}",
        f"{first.lower()} {last.lower()} ses",
        f"{first}s datter ringede",
        f"{last}s mand er på besøg",
        f"{first.lower()}.{last.lower()}@gmail.com",
        f"adresse {street} {number}",
        f"{first.lower()} ringede selv",
        f"{first[0]}.{last[0]}. er mobiliseret",
        f"bor på {street.lower()} alene",
        f"Flyttet til {p['postcode']} Odense C",
    ]


def _deliver(platform: Settings, p: dict[str, str], day: str, start: int) -> list[str]:
    folder = platform.sources_dir / "epj" / "notes"
    template = json.loads(sorted(folder.glob("*.jsonl"))[0].read_text().splitlines()[0])
    ids, lines = [], []
    for i, text in enumerate(_notes(p)):
        note_id = f"N9{start + i:08d}"
        ids.append(note_id)
        lines.append(json.dumps(template | {"note_id": note_id, "cpr": p["cpr"], "text": text}))
    (folder / f"notes_{day}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def _leftovers(text: str, p: dict[str, str]) -> list[str]:
    """Which of the person's identifiers are still in ``text`` (for the assertion message)."""
    digits = re.sub(r"[^0-9]", "", text)
    street = re.match(r"^(.*?) [0-9]", p["address"]).group(1)  # type: ignore[union-attr]
    words = [p["first_name"], p["last_name"], street]
    left = [w for w in words if re.search(rf"(?i)(?<!\w){re.escape(w)}", text)]
    numbers = [p["cpr"].replace("-", ""), p["cpr"][7:], p["phone_digits"][4:], p["postcode"]]
    left += [n for n in numbers if n in digits]
    if "@" in text or f"{p['first_name'][0]}.{p['last_name'][0]}." in text:
        left.append("e-mail or initials")
    return left


@pytest.mark.slow
def test_hurried_notes_are_published_scrubbed_or_blocked(platform: Settings) -> None:
    person = _person(platform.sources_dir)
    ids = _deliver(platform, person, "2026-11-20", 0)
    run = run_source_product(NOTES, platform)
    assert run.status == "published", run.blocking_failures
    con = lake.connect(read_only=True)
    rows = con.execute(
        "SELECT note_id, text FROM lake.clinical_notes.notes WHERE note_id IN "
        f"({', '.join('?' * len(ids))}) ORDER BY note_id",
        ids,
    ).fetchall()
    con.close()
    assert len(rows) == len(ids)
    leftovers = {note_id: _leftovers(text, person) for note_id, text in rows}
    assert leftovers == dict.fromkeys(ids, [])

    # The same notes with the scrubber switched off (a broken scrubber): the gate holds.
    blocked_ids = _deliver(platform, person, "2026-11-21", 100)
    real = scrub.scrub_column
    scrub.scrub_column = lambda *a, **k: None
    try:
        blocked = run_source_product(NOTES, platform)
    finally:
        scrub.scrub_column = real
    assert blocked.status == "audit_failed"
    gate = next(c for c in blocked.blocking_failures if c.check == "privacy_identifier_scan")
    assert gate.unexpected_count >= len(blocked_ids)
    for kind in ("cpr", "phone", "email", "address", "name", "person"):
        assert f"text:{kind}=" in gate.detail, kind
    dumped = gate.model_dump_json()
    assert person["last_name"] not in dumped and person["phone_digits"][4:] not in dumped
