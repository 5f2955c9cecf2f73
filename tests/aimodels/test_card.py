"""Model cards: the real ones pass `regionlab check`; broken copies name file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

from regionlab.aimodels.card import collect_cards, schema_stale
from regionlab.spec import load_domains
from tests.spec.test_spec_cli import run_check

ROOT = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "domains", tmp_path / "domains")
    shutil.copytree(ROOT / "models", tmp_path / "models")
    return tmp_path


def test_real_cards_are_valid_and_the_schema_is_fresh() -> None:
    cards, problems = collect_cards(ROOT / "models", load_domains(ROOT / "domains"))
    assert problems == []
    assert set(cards) == {"readmission_risk", "note_entities"}
    assert cards["readmission_risk"].initiative == "INI-002"
    assert "Poisson" in cards["readmission_risk"].synthetic_signal
    assert schema_stale(ROOT / "models") == []


def test_check_names_file_and_field_of_each_card_problem(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    card = root / "models/readmission_risk.yaml"
    text = card.read_text(encoding="utf-8")
    text = text.replace("output: probability", "output: probabilty")
    card.write_text(text, encoding="utf-8")
    ner = root / "models/note_entities.yaml"
    text = ner.read_text(encoding="utf-8")
    text = text.replace("{metric: f1, warn_below: 0.6, block_below: 0.4}",
                        "{metric: auroc, warn_below: 0.3, block_below: 0.4}")  # fmt: skip
    text = text.replace("initiative: INI-004", "initiative: INI-4")
    ner.write_text(text, encoding="utf-8")
    code, output = run_check(root / "domains")
    assert code == 1
    assert "models/readmission_risk.yaml: output:" in output
    assert "models/note_entities.yaml: metrics[0].metric: 'auroc' is not a span metric" in output
    assert "models/note_entities.yaml: metrics[0].block_below: block_below 0.4 is above" in output
    assert "models/note_entities.yaml: initiative: 'INI-4' is not an initiative id" in output


def test_unknown_ground_truth_and_missing_threshold_are_reported(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    card = root / "models/readmission_risk.yaml"
    text = card.read_text(encoding="utf-8")
    text = text.replace("product: research/readmissions_30d", "product: research/readmits")
    text = text.replace("{metric: ppv, at: 0.2,", "{metric: ppv, at: 0.3,")
    card.write_text(text, encoding="utf-8")
    _, problems = collect_cards(root / "models", load_domains(root / "domains"))
    rendered = [p.render(root) for p in problems]
    assert (
        "models/readmission_risk.yaml: ground_truth.product: unknown product "
        "research/readmits (name a product under domains/)" in rendered
    )
    assert any("metrics[4].at: threshold 0.3 is not in thresholds" in r for r in rendered)
