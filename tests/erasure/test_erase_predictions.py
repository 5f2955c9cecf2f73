"""Erasure reaches model predictions: rows that name no person but score a person's row.

``models.readmission_risk__predictions`` holds contact ids, ``models.note_entities__predictions``
note ids; the model cards say which product those ids come from. Erasing a person
must remove the predictions of their contacts and notes in the erasure's snapshot,
take their note ids out of a saved validation test set, and the verification must
find a prediction left behind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from regionlab import lake
from regionlab.erasure import erase
from regionlab.erasure.requests import make_request
from regionlab.erasure.stores import LakeStore, Selection
from regionlab.erasure.verify import Verification
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import person_key
from regionlab.settings import Settings
from regionlab.spec import load_domains
from tests.erasure.handmade import publish, values

ERASED = "010190-1234"
OTHER = "0202851235"


def _lake(settings: Settings) -> tuple[str, str]:
    key = load_key()
    gone, kept = person_key(ERASED, key), person_key(OTHER, key)
    g, k = gone, kept
    publish(
        {
            "patient_administration.contacts": (
                f"SELECT * FROM (VALUES ('C1', '{g}'), ('C2', '{g}'), ('C3', '{k}'), "
                f"('C4', '{k}')) t(contact_id, person_key)"
            ),
            "clinical_notes.notes": (
                f"SELECT * FROM (VALUES ('N1', '{g}', 'C1', 'tekst'), ('N2', '{k}', 'C3', "
                "'tekst')) t(note_id, person_key, contact_id, text)"
            ),
            "models.readmission_risk__predictions": (
                "SELECT * FROM (VALUES ('C1', 0.3), ('C2', 0.1), ('C3', 0.2), ('C4', 0.4)) "
                "t(contact_id, risk)"
            ),
            "models.note_entities__predictions": (
                "SELECT * FROM (VALUES ('N1', 'DIAGNOSE', 0, 4), ('N1', 'MEDICIN', 5, 9), "
                "('N2', 'DIAGNOSE', 0, 4)) t(row_key, label, span_start, span_end)"
            ),
        }
    )
    folder = settings.models_dir / "note_entities"
    folder.mkdir(parents=True)
    (folder / "test_set.json").write_text(
        json.dumps({"keys": ["N1", "N2"], "overlap_keys": ["N1"], "per_stratum": {"K": 2}})
    )
    return gone, kept


def test_erasing_a_person_removes_the_predictions_of_their_rows(keyed_var: Settings) -> None:
    _lake(keyed_var)
    receipt = erase(make_request("R-PRED", "indsigelse", [ERASED]))

    assert receipt.verification.passed, receipt.verification
    assert receipt.removed.lake["models/readmission_risk__predictions"] == 2
    assert receipt.removed.lake["models/note_entities__predictions"] == 2
    assert values("SELECT contact_id FROM lake.models.readmission_risk__predictions "
                  "ORDER BY 1") == ["C3", "C4"]  # fmt: skip
    assert values("SELECT DISTINCT row_key FROM lake.models.note_entities__predictions") == ["N2"]
    saved = json.loads((keyed_var.models_dir / "note_entities" / "test_set.json").read_text())
    assert saved["keys"] == ["N2"] and saved["overlap_keys"] == []
    # the erasure's snapshot is the only one left: no older snapshot still holds them
    con = lake.connect(read_only=True)
    try:
        assert len(lake.list_snapshots(con)) == 1
    finally:
        con.close()


def test_verification_finds_a_prediction_of_a_removed_row(keyed_var: Settings) -> None:
    """The scanner can fail: told C3 was removed from contacts, it finds C3's prediction."""
    _lake(keyed_var)
    sel = Selection(
        kind="erasure", request_id="R-CHECK", registry=load_domains(), settings=keyed_var,
        key=load_key(), started=datetime.now(UTC), keys=[],
        row_keys={"patient_administration/contacts": ["C3"]},
    )  # fmt: skip
    v = Verification()
    LakeStore().verify(sel, v)
    found = {k.split(": ")[1]: n for k, n in v.lake_rows_found.items()}
    assert found == {"patient_administration/contacts": 1,
                     "models/readmission_risk__predictions": 1}  # fmt: skip
