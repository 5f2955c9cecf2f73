"""The dictionary pre-annotator as a model under validation: its predictions as a product.

``score`` runs :func:`labeling.preannotate.predict` over exactly the notes the
ground truth labelled (``labels.clinical_notes__notes__entities``) and publishes
``lake.models.note_entities__predictions``: one row per predicted span (row key,
label, offsets, model version) — offsets, never text. The core validator
(:mod:`regionlab.aimodels.runner`) joins the two on the row key.

``reference_labels`` is for the demo and tests only, where nobody has annotated in
Label Studio: a rule-based *reference annotator* reads the synthetic templates'
cues (the diagnosis after "med"/"af"/"vedr."/"for", blood pressure, pulse, blood
tests, pain relief and fluids) and publishes the labelled product in the same
columns ``pull`` writes, with annotator ``reference-rules``. It never replaces a
labelled product pulled from Label Studio.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import polars as pl

from labeling.preannotate import model_version, predict
from labeling.pull import SCHEMA
from regionlab import lake
from regionlab.errors import UserError
from regionlab.platform.names import LABELS_SCHEMA, labelled_name
from regionlab.platform.tables import lake_table_exists

NOTES = ("clinical_notes", "notes")
TASK = "entities"
REFERENCE_ANNOTATOR = "reference-rules"
MODELS_SCHEMA = "models"

_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("DIAGNOSE", re.compile(r"(?:\bmed|kontrol af|vedr\.|observeres for) ([^.()]+?)\.(?:\s|$)")),
    ("UNDERSØGELSE", re.compile(r"\bBT \d{2,3}/\d{2,3}|\bpuls \d{2,3}|\b[Bb]lodprøver\b")),
    ("MEDICIN", re.compile(r"\bsmertestillende\b|\bsmertebehandling\b|\bvæske\b")),
]


def reference_spans(text: str) -> list[tuple[str, int, int]]:
    """The reference annotator's spans of one note (label, start, end)."""
    out = []
    for label, pattern in _CUES:
        for m in pattern.finditer(text):
            group = 1 if m.groups() else 0
            out.append((label, m.start(group), m.end(group)))
    return sorted(out, key=lambda s: (s[1], s[2]))


def _sample(con, limit: int, seed: int) -> list[tuple[str, str]]:
    rows = con.execute(f"SELECT note_id, text FROM {lake.table_name(*NOTES)}").fetchall()
    rows.sort(key=lambda r: (hashlib.md5(f"{seed}:{r[0]}".encode()).hexdigest(), r[0]))
    return [(str(k), str(t or "")) for k, t in rows[:limit]]


def labelled_table() -> str:
    return labelled_name(*NOTES, TASK)


def reference_labels(*, limit: int = 200, seed: int = 2024, replace: bool = False) -> int:
    """Publish the reference annotator's labelled product; returns its snapshot (or -1 when a
    labelled product already exists and ``replace`` is off)."""
    con = lake.connect()
    try:
        if lake_table_exists(con, LABELS_SCHEMA, labelled_table()) and not replace:
            return -1
        if not lake_table_exists(con, *NOTES):
            raise UserError("no clinical_notes/notes in the lake; run its pipeline first")
        source = lake.current_snapshot(con)
        now = dt.datetime.now(dt.UTC)
        rows = []
        for i, (key, text) in enumerate(_sample(con, limit, seed)):
            for j, (label, start, end) in enumerate(reference_spans(text)):
                rows.append(
                    {"row_key": key, "source_snapshot_id": source, "project_id": 0,
                     "task_id": i, "annotation_id": i * 1000 + j,
                     "annotator": REFERENCE_ANNOTATOR, "kind": "span", "control": "label",
                     "label": label, "span_start": start, "span_end": end,
                     "lead_time_s": None, "annotated_at": now}
                )  # fmt: skip
        frame = pl.DataFrame(rows, schema=SCHEMA)
        return lake.publish(
            con,
            LABELS_SCHEMA,
            labelled_table(),
            con.from_arrow(frame.to_arrow()),
            commit_message="reference labels of clinical_notes/notes (entities), rule-based",
            extra_info={"source_product": "clinical_notes/notes", "source_snapshots": [source],
                        "labeling_task": TASK, "annotator": REFERENCE_ANNOTATOR},
        )  # fmt: skip
    finally:
        con.close()


def score(model_id: str = "note_entities") -> tuple[int, int]:
    """Predict over the labelled notes; publish ``models.<id>__predictions``.

    Returns (predicted spans, snapshot id).
    """
    con = lake.connect()
    try:
        if not lake_table_exists(con, LABELS_SCHEMA, labelled_table()):
            raise UserError(
                f"no labelled product labels/{labelled_table()}; pull the labelling task "
                "(`regionlab label pull clinical_notes/notes entities`) first"
            )
        notes = lake.table_name(*NOTES)
        labels = lake.table_name(LABELS_SCHEMA, labelled_table())
        docs = con.execute(
            f"SELECT n.note_id, n.text FROM {notes} n "
            f"WHERE n.note_id IN (SELECT DISTINCT row_key FROM {labels}) ORDER BY n.note_id"
        ).fetchall()
        version = model_version()
        rows = [
            {"row_key": str(key), "label": p.label, "span_start": p.start, "span_end": p.end,
             "model_version": version}
            for key, text in docs
            for p in predict(str(text or ""))
        ]  # fmt: skip
        frame = pl.DataFrame(
            rows,
            schema={"row_key": pl.Utf8, "label": pl.Utf8, "span_start": pl.Int32,
                    "span_end": pl.Int32, "model_version": pl.Utf8},
        )  # fmt: skip
        snapshot = lake.publish(
            con,
            MODELS_SCHEMA,
            f"{model_id}__predictions",
            con.from_arrow(frame.to_arrow()),
            extra_info={"model": f"models/{model_id}", "model_version": version,
                        "upstream": ["clinical_notes/notes", f"labels/{labelled_table()}"]},
        )  # fmt: skip
    finally:
        con.close()
    return frame.height, snapshot
