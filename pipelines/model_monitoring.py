"""Silent trial and monitoring of the AI models: Dagster jobs, schedules and a sensor.

For every card under ``models/``: a job ``validate_<id>`` that scores the model on
the lake's current data (publishing its predictions product) and validates it
against the card (:func:`regionlab.aimodels.runner.validate`: report, quality
history with the model's ref, drift per feature); a schedule on the card's
``monitoring.schedule``; and one sensor that starts the job when the card's
ground-truth product — or a product the card lists under ``monitoring.watch``, such
as a streaming product whose micro-batches are publish snapshots — has a newer
published snapshot than the last one the model was validated on
(``monitoring.on_new_snapshot``). A ``block`` status fails the run
so it shows red in Dagster; ``warn`` succeeds with a warning in the log. The
catalogue sensor then re-emits, so the initiatives board shows the new status.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation.
import json
from collections.abc import Mapping

import dagster as dg

from pipelines.schedules import TIMEZONE
from regionlab.aimodels.card import ModelCard


def watched_snapshot(card: ModelCard, latest: Mapping[str, int]) -> int | None:
    """Newest publish of the card's ground truth or of a product in ``monitoring.watch``."""
    found = [latest[r] for r in (card.ground_truth.product, *card.monitoring.watch) if r in latest]
    return max(found, default=None)


def due_models(
    cards: Mapping[str, ModelCard], latest: Mapping[str, int], seen: Mapping[str, int]
) -> list[str]:
    """Models whose ground truth (or a watched product, such as a stream) has a published
    snapshot newer than the one last seen."""
    due = []
    for model_id, card in sorted(cards.items()):
        snapshot = watched_snapshot(card, latest)
        fresh = snapshot is not None and snapshot > seen.get(model_id, -1)
        if card.monitoring.on_new_snapshot and fresh:
            due.append(model_id)
    return due


def _latest_publishes() -> dict[str, int]:
    """Newest publish snapshot per product ref (labelled products included)."""
    from regionlab import lake

    con = lake.connect(read_only=True)
    try:
        latest: dict[str, int] = {}
        for snap in lake.list_snapshots(con):
            ref = snap.published_ref
            if ref is not None:
                latest[ref] = max(latest.get(ref, -1), snap.id)
        return latest
    finally:
        con.close()


def _validate_op(model_id: str) -> dg.OpDefinition:
    @dg.op(
        name=f"validate_{model_id}_op",
        description=f"Score {model_id} on the current lake and validate it against its card.",
    )
    def op(context: dg.OpExecutionContext) -> dg.Output[str]:  # fmt: skip
        from regionlab.aimodels import runner

        card = runner.card(model_id)
        if card.output == "spans":
            from labeling.entity_model import score

            rows, snapshot = score(model_id)
        else:
            rows, snapshot = runner.score_readmission(card)
        result = runner.validate(model_id)
        meta = {"status": result.status, "predictions": rows, "scored_snapshot": snapshot,
                "report": dg.MetadataValue.path(str(result.html_path))}  # fmt: skip
        report = result.report
        judged = [*report["judgements"], *report.get("drift", []), *report.get("disparity", [])]
        bad = [j["name"] for j in judged if j["status"] != "pass"]
        if result.status == "block":
            raise dg.Failure(description=f"{model_id} blocked by its card: {', '.join(bad)}",
                             metadata=meta)  # fmt: skip
        if result.status == "warn":
            context.log.warning(f"{model_id}: warn ({', '.join(bad)})")
        return dg.Output(result.status, metadata=meta)

    return op


def build_model_monitoring(
    cards: Mapping[str, ModelCard],
) -> tuple[list[dg.JobDefinition], list[dg.ScheduleDefinition], list[dg.SensorDefinition]]:
    jobs, schedules = {}, []
    for model_id, card in sorted(cards.items()):
        op = _validate_op(model_id)
        job = dg.JobDefinition(
            graph_def=dg.GraphDefinition(name=f"validate_{model_id}", node_defs=[op]),
            description=f"Silent-trial validation of {model_id} ({card.initiative}).",
            tags={"regionlab/kind": "model_validation", "regionlab/model": model_id},
        )
        jobs[model_id] = job
        schedules.append(
            dg.ScheduleDefinition(
                name=f"validate_{model_id}_schedule",
                job=job,
                cron_schedule=card.monitoring.schedule,
                execution_timezone=TIMEZONE,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description=f"Monitoring schedule of {model_id} from models/{model_id}.yaml.",
            )
        )

    @dg.sensor(
        name="models_on_new_snapshot",
        jobs=list(jobs.values()),
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Re-validates a model when its ground-truth product has a new snapshot.",
    )
    def models_on_new_snapshot(context: dg.SensorEvaluationContext):
        seen = json.loads(context.cursor) if context.cursor else {}
        latest = _latest_publishes()
        due = due_models(cards, latest, seen)
        for model_id in due:
            snapshot = watched_snapshot(cards[model_id], latest)
            seen[model_id] = snapshot
            yield dg.RunRequest(run_key=f"{model_id}@{snapshot}", job_name=jobs[model_id].name)
        context.update_cursor(json.dumps(seen, sort_keys=True))
        if not due:
            yield dg.SkipReason("no model's ground truth has a newer snapshot")

    return list(jobs.values()), schedules, ([models_on_new_snapshot] if jobs else [])
