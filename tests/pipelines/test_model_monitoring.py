"""Model monitoring in Dagster: a schedule per card and a sensor on new ground truth."""

from __future__ import annotations

from pathlib import Path

from pipelines.definitions import build_definitions
from pipelines.model_monitoring import due_models
from regionlab.aimodels.card import collect_cards
from regionlab.spec import load_domains

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_domains(ROOT / "domains")
CARDS, _ = collect_cards(ROOT / "models", REGISTRY)


def test_each_card_gets_a_job_and_its_schedule_and_one_sensor_watches_all() -> None:
    defs = build_definitions(REGISTRY, CARDS)
    schedule = defs.resolve_schedule_def("validate_readmission_risk_schedule")
    assert schedule.cron_schedule == CARDS["readmission_risk"].monitoring.schedule == "0 6 * * 1"
    assert schedule.job_name == "validate_readmission_risk"
    assert defs.resolve_job_def("validate_note_entities").tags["regionlab/model"] == "note_entities"
    sensor = defs.resolve_sensor_def("models_on_new_snapshot")
    assert {t.job_name for t in sensor.targets} == {
        "validate_readmission_risk", "validate_note_entities"
    }  # fmt: skip


def test_a_new_ground_truth_snapshot_makes_a_model_due_once() -> None:
    latest = {"research/readmissions_30d": 12, "labels/clinical_notes__notes__entities": 7}
    assert due_models(CARDS, latest, {}) == ["note_entities", "readmission_risk"]
    seen = {"note_entities": 7, "readmission_risk": 12}
    assert due_models(CARDS, latest, seen) == []
    latest["research/readmissions_30d"] = 13
    assert due_models(CARDS, latest, seen) == ["readmission_risk"]
    assert due_models(CARDS, {}, {}) == []  # nothing published yet


def test_the_multiuser_location_has_the_same_monitoring() -> None:
    """The Celery code location loads and carries every card's schedule, job and the sensor."""
    from pipelines.definitions_multiuser import build_multiuser_definitions
    from regionlab.profiles import load_profile

    defs = build_multiuser_definitions(REGISTRY, load_profile("multiuser"), CARDS)
    repo = defs.get_repository_def()  # resolves every target: fails on a dangling job name
    for model_id, card in CARDS.items():
        schedule = repo.get_schedule_def(f"validate_{model_id}_schedule")
        assert schedule.cron_schedule == card.monitoring.schedule
        assert repo.get_job(f"validate_{model_id}").tags["regionlab/model"] == model_id
    sensor = repo.get_sensor_def("models_on_new_snapshot")
    assert {t.job_name for t in sensor.targets} == {f"validate_{m}" for m in CARDS}
    assert {"retention_daily", "workspace_sweep_daily"} <= {s.name for s in repo.schedule_defs}
    assert repo.has_job("all_products") and repo.has_job("domain_population")


def test_a_card_watching_a_stream_is_due_on_each_new_micro_batch() -> None:
    """A stream's micro-batches are publish snapshots: a card that watches it re-validates."""
    card = CARDS["readmission_risk"]
    streaming = card.model_copy(
        update={"monitoring": card.monitoring.model_copy(
            update={"watch": ["laboratory/epj_observations"]})}
    )  # fmt: skip
    cards = {"readmission_risk": streaming}
    seen = {"readmission_risk": 12}
    latest = {"research/readmissions_30d": 12, "laboratory/epj_observations": 11}
    assert due_models(cards, latest, seen) == []
    latest["laboratory/epj_observations"] = 20  # a micro-batch committed
    assert due_models(cards, latest, seen) == ["readmission_risk"]
    assert due_models(CARDS, latest, seen) == []  # the card without watch ignores the stream
