"""docs/cohorts.md is generated from the cohort models and must match them."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from regionlab.research import cohort as c
from regionlab.research.cohort_doc import _SECTIONS, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cohorts.md"


def test_the_committed_reference_is_what_the_models_generate() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/cohorts.md is stale: python -m regionlab.research.cohort_doc > docs/cohorts.md"
    )


def test_every_criterion_kind_and_field_is_documented() -> None:
    union = get_args(get_args(c.Criterion)[0])
    documented = {model for _, model in _SECTIONS}
    assert set(union) <= documented
    text = render()
    for _, model in _SECTIONS:
        for name, field in model.model_fields.items():
            if name != "kind":
                assert f"| `{field.alias or name}` |" in text, (model.__name__, name)
    # The defaults a researcher asks about are spelled out.
    assert "without `within`, ever prescribed" in text
    assert "`match: inside` (the default)" in text
    assert "`90+`" in text
