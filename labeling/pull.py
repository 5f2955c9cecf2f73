"""Pull annotations back: validate, publish a labelled product, agreement, training export.

One run of ``pull`` does, in order:

1. export the project's annotated tasks (Label Studio's JSON export);
2. validate every annotation against the label config and reject invalid
   ones whole, with a message naming task, annotation and annotator;
3. publish ``lake.labels.<domain>__<product>__<task>`` (one row per span or
   choice) in one snapshot, with the source product, its snapshot ids and the
   Label Studio project in the snapshot's extra info;
4. compute agreement (:mod:`labeling.agreement`) and append it to the quality
   history in the lake (category ``agreement``; values in the description);
5. write the consensus training export (JSONL) and a manifest JSON that the
   catalogue turns into lineage (:mod:`catalog.labeling`).

Annotators are recorded by the local part of their Label Studio e-mail: they
are staff accounts, and nothing in a labelled row points at a patient except
the product's own row key.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from labeling.agreement import (
    Kappa,
    SpanF1,
    SpanT,
    consensus_choice,
    consensus_spans,
    kappas,
    span_f1s,
)
from labeling.config import ParsedAnnotation, parse_result
from labeling.push import find_project, resolve
from regionlab import lake
from regionlab.errors import UserError
from regionlab.platform import names
from regionlab.platform.names import LABELS_SCHEMA
from regionlab.platform.tables import QUALITY_HISTORY
from regionlab.settings import get_settings
from regionlab.spec import Product
from regionlab.spec.labeling import TEXT_FIELD, LabelingTask, project_title

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

log = logging.getLogger(__name__)

LABELS_DOMAIN = LABELS_SCHEMA
KAPPA_MIN = 0.6
F1_MIN = 0.7

#: The labelled product's columns: (name, polars type, description).
COLUMNS: list[tuple[str, Any, str]] = [
    ("row_key", pl.Utf8, "Row key of the source product's row (e.g. note_id)."),
    ("source_snapshot_id", pl.Int64, "Lake snapshot the task's text was read from."),
    ("project_id", pl.Int64, "Label Studio project id."),
    ("task_id", pl.Int64, "Label Studio task id."),
    ("annotation_id", pl.Int64, "Label Studio annotation id."),
    ("annotator", pl.Utf8, "Label Studio user (local part of the e-mail; staff, not a patient)."),
    ("kind", pl.Utf8, "span (entity) or choice (document class)."),
    ("control", pl.Utf8, "Name of the label config control the value comes from."),
    ("label", pl.Utf8, "Entity label or document class."),
    (
        "span_start",
        pl.Int32,
        "Start offset of the span in the text (characters); null for a choice.",
    ),
    ("span_end", pl.Int32, "End offset (exclusive); null for a choice."),
    ("lead_time_s", pl.Float64, "Seconds the annotator spent on the annotation."),
    ("annotated_at", pl.Datetime("us", "UTC"), "When the annotation was last saved."),
]
SCHEMA = {name: dtype for name, dtype, _ in COLUMNS}


def labelled_name(product: Product, task: LabelingTask) -> str:
    """The labelled product's table name in the ``labels`` domain."""
    return names.labelled_name(product.domain, product.id, task.id)


def manifests_dir() -> Path:
    return get_settings().label_manifests_dir


def exports_dir() -> Path:
    return get_settings().label_exports_dir


@dataclass
class _Accepted:
    task_id: int
    row_key: str
    snapshot_id: int | None
    text: str
    annotation_id: int
    annotator: str
    lead_time: float | None
    annotated_at: dt.datetime | None
    parsed: ParsedAnnotation


@dataclass
class PullResult:
    labelled_product: str
    snapshot_id: int
    project_id: int
    rows: int
    accepted: int
    rejected: list[str]
    kappas: list[Kappa]
    span_f1: list[SpanF1]
    manifest: Path
    training_export: Path
    run_id: str
    source_snapshots: list[int] = field(default_factory=list)


def _export(sdk: LabelStudio, project_id: int) -> list[dict[str, Any]]:
    raw = b"".join(
        sdk.projects.exports.download_sync(project_id, export_type="JSON", download_all_tasks=False)
    )
    return json.loads(raw)


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _annotator(completed_by: Any, emails: dict[int, str]) -> str:
    if isinstance(completed_by, dict):
        email = completed_by.get("email") or emails.get(int(completed_by.get("id", -1)), "")
        uid = completed_by.get("id")
    else:
        uid = completed_by
        email = emails.get(int(completed_by), "") if completed_by is not None else ""
    return email.split("@", 1)[0].lower() if email else f"user{uid}"


def _validate(
    tasks: list[dict[str, Any]], schema, emails: dict[int, str]
) -> tuple[list[_Accepted], list[str], int]:
    accepted: list[_Accepted] = []
    rejected: list[str] = []
    total = 0
    for task in tasks:
        data = task.get("data") or {}
        text = data.get(TEXT_FIELD)
        row_key = data.get("row_key")
        for ann in task.get("annotations") or []:
            if ann.get("was_cancelled"):
                continue
            total += 1
            who = _annotator(ann.get("completed_by"), emails)
            where = f"task {task.get('id')}, annotation {ann.get('id')} by {who}"
            if not isinstance(text, str) or row_key is None:
                rejected.append(
                    f"{where}: the task has no text or row_key (not pushed by regionlab)"
                )
                continue
            parsed = parse_result(ann.get("result") or [], text, schema)
            if not parsed.valid:
                rejected.append(f"{where}: " + "; ".join(dict.fromkeys(parsed.problems)))
                continue
            snapshot = data.get("snapshot_id")
            accepted.append(
                _Accepted(
                    task_id=int(task["id"]),
                    row_key=str(row_key),
                    snapshot_id=int(snapshot) if snapshot is not None else None,
                    text=text,
                    annotation_id=int(ann["id"]),
                    annotator=who,
                    lead_time=float(ann["lead_time"]) if ann.get("lead_time") is not None else None,
                    annotated_at=_time(ann.get("updated_at") or ann.get("created_at")),
                    parsed=parsed,
                )
            )
    return accepted, rejected, total


def _rows(accepted: list[_Accepted], project_id: int) -> pl.DataFrame:
    records = []
    for a in accepted:
        base = {
            "row_key": a.row_key,
            "source_snapshot_id": a.snapshot_id,
            "project_id": project_id,
            "task_id": a.task_id,
            "annotation_id": a.annotation_id,
            "annotator": a.annotator,
            "lead_time_s": a.lead_time,
            "annotated_at": a.annotated_at,
        }
        for s in a.parsed.spans:
            records.append(
                base
                | {
                    "kind": "span",
                    "control": s.control,
                    "label": s.label,
                    "span_start": s.start,
                    "span_end": s.end,
                }  # fmt: skip
            )
        for c in a.parsed.choices:
            records.append(
                base
                | {
                    "kind": "choice",
                    "control": c.control,
                    "label": c.label,
                    "span_start": None,
                    "span_end": None,
                }  # fmt: skip
            )
    return pl.DataFrame(records, schema=SCHEMA).select(list(SCHEMA))


def _latest_per_annotator(accepted: list[_Accepted]) -> dict[str, dict[str, _Accepted]]:
    """row_key -> annotator -> that annotator's newest valid annotation of the row."""
    out: dict[str, dict[str, _Accepted]] = defaultdict(dict)
    for a in sorted(accepted, key=lambda a: a.annotation_id):
        out[a.row_key][a.annotator] = a
    return out


def _agreement(latest: dict[str, dict[str, _Accepted]], schema) -> tuple[list[Kappa], list[SpanF1]]:
    choices: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    spans: dict[str, dict[str, set[SpanT]]] = defaultdict(dict)
    for row_key, by in latest.items():
        for who, a in by.items():
            for c in a.parsed.choices:
                choices[c.control][who][row_key] = c.label
            if schema.labels:
                spans[who][row_key] = {(s.start, s.end, s.label) for s in a.parsed.spans}
    labels = sorted(schema.entity_labels)
    return kappas(choices), span_f1s(spans, labels) if schema.labels else []


def _status(value: float | None, minimum: float) -> str:
    if value is None:
        return "errored"
    return "passed" if value >= minimum else "failed"


def _history_rows(
    ref: str,
    snapshot: int,
    run_id: str,
    ks: list[Kappa],
    fs: list[SpanF1],
    rejected: int,
    total: int,
    now: dt.datetime,
) -> list[tuple]:
    rows = [
        (ref, snapshot, run_id, "annotations_valid", "conformance", "warning",
         "passed" if rejected == 0 else "failed", rejected, total,
         f"{rejected} of {total} annotations rejected: not valid under the label config", now)
    ]  # fmt: skip
    for k in ks:
        a, b = k.annotators
        value = "undefined" if k.kappa is None else f"{k.kappa:.4f}"
        rows.append(
            (ref, snapshot, run_id, f"agreement.kappa.{k.control}.{a}~{b}", "agreement",
             "warning", _status(k.kappa, KAPPA_MIN), k.items - k.agreed, k.items,
             f"Cohen's kappa {value} between {a} and {b} on '{k.control}' over {k.items} "
             f"documents (observed agreement {k.observed:.4f}, chance {k.expected:.4f}; "
             f"minimum {KAPPA_MIN})", now)
        )  # fmt: skip
    for f in fs:
        a, b = f.annotators
        label = "all" if f.label == "*" else f.label
        for how, value, unexpected in (
            ("exact", f.exact_f1, f.spans_a + f.spans_b - 2 * f.exact_matches),
            ("overlap", f.overlap_f1, None),
        ):
            shown = "undefined" if value is None else f"{value:.4f}"
            rows.append(
                (ref, snapshot, run_id, f"agreement.span_f1_{how}.{label}.{a}~{b}", "agreement",
                 "warning", _status(value, F1_MIN), unexpected, f.spans_a + f.spans_b,
                 f"span F1 ({how}) {shown} for {label} between {a} ({f.spans_a} spans) and {b} "
                 f"({f.spans_b} spans) over {f.documents} documents; {f.exact_matches} exact "
                 f"matches (minimum {F1_MIN})", now)
            )  # fmt: skip
    return rows


def _record_quality(con, rows: list[tuple]) -> None:
    """Append to the quality history in one transaction (creating the table if absent)."""
    with lake.write_lock(con):
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in QUALITY_HISTORY.ddl:
                con.execute(statement)
            if rows:
                con.executemany(QUALITY_HISTORY.insert, rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _training_export(latest: dict[str, dict[str, _Accepted]], path: Path) -> int:
    """Consensus per document: majority-exact spans and majority class per control."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row_key in sorted(latest):
            by = latest[row_key]
            first = next(iter(by.values()))
            spans = consensus_spans([{(s.start, s.end, s.label) for s in a.parsed.spans}
                                     for a in by.values()])  # fmt: skip
            controls = sorted({c.control for a in by.values() for c in a.parsed.choices})
            labels = {}
            for control in controls:
                picked = [next((c.label for c in a.parsed.choices if c.control == control), "")
                          for a in by.values()]  # fmt: skip
                choice = consensus_choice(picked)  # "" (no choice) can win, and is dropped
                if choice:
                    labels[control] = choice
            record = {
                "row_key": row_key,
                "snapshot_id": first.snapshot_id,
                "text": first.text,
                "spans": [
                    {"start": s, "end": e, "label": lab, "text": first.text[s:e]}
                    for s, e, lab in spans
                ],
                "labels": sorted(labels.values()),
                "choices": labels,
                "annotators": len(by),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def pull(
    product_ref: str,
    task_id: str,
    *,
    sdk: LabelStudio | None = None,
    base_url: str | None = None,
) -> PullResult:
    """Export, validate, publish and measure the annotations of one labelling task."""
    from labeling import server

    product, task = resolve(product_ref, task_id)
    if sdk is None:
        running = server.status()
        sdk = server.client(running)
        base_url = running.url if running else base_url
    title = project_title(product.ref, task.id)
    project = find_project(sdk, title)
    if project is None:
        raise UserError(
            f"no Label Studio project '{title}': push it first with "
            f"`regionlab labeling push {product.ref} {task.id}`"
        )
    project_id = int(project.id)
    schema = task.schema()
    emails = {int(u.id): u.email or "" for u in sdk.users.list()}
    accepted, rejected, total = _validate(_export(sdk, project_id), schema, emails)
    for message in rejected:
        log.warning("rejected %s", message)
    if not accepted:
        # An empty labelled product would be catalogued as a product without content.
        raise UserError(
            f"no valid annotations in '{title}' yet ({total} exported, {len(rejected)} "
            "rejected): nothing published; annotate in Label Studio, then pull again"
        )

    name = labelled_name(product, task)
    ref = names.labelled_ref(name)
    run_id = f"labeling-{uuid.uuid4().hex[:12]}"
    frame = _rows(accepted, project_id)
    sources = sorted({a.snapshot_id for a in accepted if a.snapshot_id is not None})
    latest = _latest_per_annotator(accepted)
    ks, fs = _agreement(latest, schema)
    now = dt.datetime.now(dt.UTC)

    con = lake.connect()
    try:
        snapshot = lake.publish(
            con,
            LABELS_DOMAIN,
            name,
            con.from_arrow(frame.to_arrow()),
            mode="replace",
            commit_message=f"labels of {product.ref} ({task.id}) from Label Studio",
            extra_info={
                "run_id": run_id,
                "source_product": product.ref,
                "source_snapshots": sources,
                "labelstudio_project": project_id,
                "labeling_task": task.id,
                "rejected": len(rejected),
            },
        )
        _record_quality(
            con, _history_rows(ref, snapshot, run_id, ks, fs, len(rejected), total, now)
        )
    finally:
        con.close()

    export = get_settings().label_export(name)
    _training_export(latest, export)
    manifest = _write_manifest(
        product, task, project, base_url, name, snapshot, sources, run_id, frame.height,
        len(accepted), rejected, total, ks, fs, export, now,
    )  # fmt: skip
    return PullResult(
        labelled_product=ref,
        snapshot_id=snapshot,
        project_id=project_id,
        rows=frame.height,
        accepted=len(accepted),
        rejected=rejected,
        kappas=ks,
        span_f1=fs,
        manifest=manifest,
        training_export=export,
        run_id=run_id,
        source_snapshots=sources,
    )


def _write_manifest(
    product, task, project, base_url, name, snapshot, sources, run_id, rows, accepted, rejected,
    total, ks, fs, export, now,
) -> Path:  # fmt: skip
    """What the catalogue needs to describe the labelled product and its lineage."""
    manifest = {
        "labelled_product": names.labelled_ref(name),
        "domain": LABELS_DOMAIN,
        "name": name,
        "table": f"lake.{LABELS_DOMAIN}.{name}",
        "snapshot_id": snapshot,
        "run_id": run_id,
        "generated_at": now.isoformat(),
        "source_product": product.ref,
        "source_title": product.title,
        "source_snapshot_ids": sources,
        "owners": [o.model_dump() for o in product.owners],
        "labeling_task": {
            "id": task.id,
            "title": task.title,
            "kind": task.kind.value,
            "text_column": task.text_column,
            "labels": sorted(task.schema().entity_labels),
            "choices": sorted({c for v in task.schema().choices.values() for c in v}),
            "sample_size": task.sample_size,
            "seed": task.seed,
            "pre_annotation": task.pre_annotation.value,
        },
        "labelstudio": {
            "project_id": int(project.id),
            "project_title": project.title,
            "url": f"{base_url}/projects/{project.id}" if base_url else None,
            "model_version": getattr(project, "model_version", None) or None,
        },
        "counts": {
            "rows": rows,
            "annotations": total,
            "accepted": accepted,
            "rejected": len(rejected),
        },
        "agreement": {
            "kappa": [
                {"control": k.control, "annotators": list(k.annotators), "documents": k.items,
                 "kappa": k.kappa, "observed": k.observed, "expected": k.expected}
                for k in ks
            ],
            "span_f1": [
                {"label": f.label, "annotators": list(f.annotators), "documents": f.documents,
                 "spans_a": f.spans_a, "spans_b": f.spans_b, "exact_matches": f.exact_matches,
                 "exact_f1": f.exact_f1, "overlap_f1": f.overlap_f1}
                for f in fs
            ],
        },
        "training_export": str(export),
        "columns": [
            {"name": n, "type": _duck_type(t), "description": d} for n, t, d in COLUMNS
        ],
    }  # fmt: skip
    path = get_settings().label_manifest(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _duck_type(dtype: Any) -> str:
    return {
        pl.Utf8: "varchar",
        pl.Int64: "bigint",
        pl.Int32: "integer",
        pl.Float64: "double",
    }.get(dtype, "timestamp")
