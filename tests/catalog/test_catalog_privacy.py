"""The catalogue must never hold a row value, pseudonym, CPR number, name or key.

The fixed facts plant all of these in check results' ``detail`` (and one in a
description); the scan below reads the emitted JSON as text and as DataHub
reads it back from Lite.
"""

from __future__ import annotations

import json

import pytest
from catalog_testdata import PLANTED_CPR, PLANTED_KEY, PLANTED_NAME, PLANTED_PSEUDONYM

from catalog.emit import build_mcps
from catalog.safety import WITHHELD, safe_text
from catalog.sinks import write_json
from regionlab.privacy.identifiers import CPR_STRICT, PERSON_KEY


@pytest.fixture(scope="module")
def emitted(registry, facts, tmp_path_factory) -> str:
    path = write_json(build_mcps(registry, facts), tmp_path_factory.mktemp("json") / "m.json")
    return path.read_text(encoding="utf-8")


def test_planted_values_were_really_planted(facts):
    details = " ".join(
        r.detail for runs in facts.quality.values() for run in runs for r in run.results
    )
    for planted in (PLANTED_CPR, PLANTED_PSEUDONYM, PLANTED_NAME, PLANTED_KEY):
        assert planted in details


@pytest.mark.parametrize("planted", [PLANTED_CPR, PLANTED_PSEUDONYM, PLANTED_NAME, PLANTED_KEY])
def test_no_planted_value_reaches_the_json(emitted, planted):
    assert planted not in emitted
    assert json.dumps(planted)[1:-1] not in emitted  # as JSON escapes it (Ø → \\u00d8)


def test_no_cpr_or_pseudonym_shaped_text_at_all(emitted):
    assert not CPR_STRICT.contains(emitted)
    assert not PERSON_KEY.contains(emitted)


def test_counts_are_kept_while_details_are_dropped(emitted):
    assert '"unexpectedCount": 12' in emitted  # municipality_in_region, newest persons run
    assert "detail" not in emitted


@pytest.mark.parametrize(
    "text",
    [
        f"value {PLANTED_CPR}",
        "cpr 0102031234",
        f"key {PLANTED_PSEUDONYM}",
        "phone +45 12 34 56 78",
        "value 'Jensen' found",
    ],
)
def test_value_shaped_descriptions_are_withheld(text):
    assert safe_text(text) == WITHHELD


def test_plain_descriptions_pass():
    text = "No CPR numbers, phone numbers or names from the register in any text column."
    assert safe_text(text) == text
