"""The officer's review: each query summarised, then only what changed from the previous one."""

from __future__ import annotations

from datetime import UTC, datetime

from regionlab.research.audit_review import changes, review, summarise
from regionlab.research.audit_store import AuditEntry

BASE = {
    "title": "free text",
    "age": {"min": 50, "max": 70},
    "sex": None,
    "include": [{"kind": "diagnosis", "codes": ["DE11"]}],
    "exclude": [],
}


def _entry(n: int, user: str, definition: dict, refused: str | None = None) -> AuditEntry:  # type: ignore[type-arg]
    return AuditEntry(
        seq=n,
        id=f"e{n}",
        at=datetime(2026, 11, 2, 9, n, tzinfo=UTC),
        user=user,
        action="feasibility",
        project=None,
        subject=None,
        data={
            "definition": definition,
            "dimensions": ["sex"],
            "answer": {"total": 14, "cells": {"K": 9, "M": "<5", "Total": 14}},
            "suppression": {"cells": 3, "hidden": 1},
            "refused": refused,
        },
    )


def test_summary_leaves_out_free_text_and_empty_criteria() -> None:
    text = summarise(BASE)
    assert text == 'age.max=70; age.min=50; include[0].codes=["DE11"]; include[0].kind=diagnosis'


def test_changes_name_the_one_bound_or_filter_that_moved() -> None:
    narrower = {**BASE, "age": {"min": 55, "max": 70}}
    assert changes(BASE, narrower) == ["age.min 50→55"]
    with_sex = {**BASE, "sex": ["K"]}
    assert changes(BASE, with_sex) == ['sex null→["K"]']
    fewer = {**BASE, "include": []}
    assert changes(BASE, fewer) == ["+include []", "-include[0].codes", "-include[0].kind"]
    assert changes(BASE, {**BASE, "title": "another name"}) == []


def test_review_compares_each_user_with_their_own_previous_query() -> None:
    rows = review(
        [
            _entry(1, "anna", BASE),
            _entry(2, "bo", {**BASE, "age": {"min": 20, "max": 70}}),
            _entry(3, "anna", {**BASE, "age": {"min": 55, "max": 70}}),
            _entry(4, "anna", {**BASE, "age": {"min": 55, "max": 70}}, refused="near-identical"),
        ]
    )
    assert rows[0].what.startswith("age.max=70")
    assert rows[1].what.startswith("age.max=70")  # bo's first query: in full
    assert rows[2].what == "changed: age.min 50→55"
    assert rows[3].what == "same definition as before"
    assert rows[2].answer == "total 14; 3 cells, 1 hidden"
    assert (rows[3].answer, rows[3].outcome) == ("-", "refused: near-identical")
