"""``labeling push --test-set`` refuses a model whose ground truth is not this task, clearly."""

from __future__ import annotations

import pytest

from labeling.push import push
from regionlab.errors import UserError

NO_SERVER = object()  # never reached: the card is checked before Label Studio is used


def test_a_model_with_an_outcome_ground_truth_has_no_test_set_to_push() -> None:
    with pytest.raises(UserError, match="not a labelled product"):
        push("clinical_notes/notes", "entities", sdk=NO_SERVER, test_set="readmission_risk")


def test_an_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(UserError, match="no model card .*known models: note_entities"):
        push("clinical_notes/notes", "entities", sdk=NO_SERVER, test_set="nope")
