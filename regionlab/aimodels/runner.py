"""Train, score and validate the region's models over the lake and workspaces.

The glue between the pure parts (:mod:`~regionlab.aimodels.evaluate`,
:mod:`~regionlab.aimodels.readmission`) and the platform: cards from ``models/``,
the training workspace (public functions of :mod:`regionlab.research.workspace`
only), predictions published as ``lake.models.<id>__predictions`` with their
lineage in the snapshot's extra info, reports under ``var/models/<id>/`` and one
row per judgement in the quality history with the model's ref as the product.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from regionlab import lake
from regionlab.aimodels import readmission
from regionlab.aimodels.card import ModelCard, get_card
from regionlab.aimodels.disclosure import public_training
from regionlab.aimodels.evaluate import evaluate_binary, evaluate_spans
from regionlab.errors import UserError
from regionlab.platform.tables import QUALITY_HISTORY, lake_table_exists
from regionlab.research.suppression import DEFAULT_THRESHOLD, hidden_marker
from regionlab.settings import get_settings
from regionlab.spec import load_domains

MODELS_SCHEMA = "models"
CATEGORY = "model_validation"
FOLLOW_UP_DAYS = 30


def card(model_id: str) -> ModelCard:
    settings = get_settings()
    return get_card(model_id, settings.model_cards_dir, load_domains())


def model_file(model_id: str) -> Path:
    return get_settings().model_report_dir(model_id) / "model.json"


def report_file(model_id: str, suffix: str = "json") -> Path:
    return get_settings().model_report_dir(model_id) / f"report.{suffix}"


def history_file(model_id: str) -> Path:
    """Every validation's headline, newest last (the site's trend reads it)."""
    return get_settings().model_report_dir(model_id) / "history.jsonl"


def _table(ref: str) -> str:
    return lake.table_name(*ref.split("/"))


# --- the readmission model ---------------------------------------------------------


def train_readmission(c: ModelCard) -> readmission.TrainedModel:
    """Fit in the card's workspace on the training window; save coefficients as JSON."""
    from regionlab.research.workspace import open_workspace, read_manifest

    if c.training.workspace is None or c.training.window is None:
        raise UserError(f"models/{c.id}.yaml: training: needs workspace and window to train")
    project = c.training.workspace
    con = open_workspace(project)
    try:
        sql = readmission.feature_sql(
            readmission.workspace_tables, c.training.window.start, c.training.window.end
        )
        frame = readmission.load_frame(con, sql)
    finally:
        con.close()
    if frame.n == 0 or not 0 < int(frame.columns["readmitted"].sum()) < frame.n:
        raise UserError(
            f"workspace {project} has no index contacts with both outcomes in the training "
            f"window {c.training.window.start}..{c.training.window.end}; rebuild it on a lake "
            "with contacts (`regionlab workspace build`)"
        )
    trained = readmission.train(
        frame,
        c.id,
        c.version,
        {
            "workspace": project,
            "snapshot": read_manifest(project).lake_snapshot,
            "window": [c.training.window.start, c.training.window.end],
            "products": c.training.products,
        },
    )
    trained.save(model_file(c.id))
    return trained


def score_readmission(c: ModelCard) -> tuple[int, int]:
    """Score every index contact after the training window; publish the predictions.

    Returns (rows, snapshot id). Only contact ids and risks are written: no person
    key, so the predictions product adds no person store.
    """
    path = model_file(c.id)
    if not path.exists():
        raise UserError(f"model {c.id} is not trained yet; run `regionlab model train {c.id}`")
    trained = readmission.TrainedModel.load(path)
    start = c.training.window.end if c.training.window else "1900-01-01"
    con = lake.connect()
    try:
        # the features are read inside one transaction, so ``source`` is the snapshot read;
        # committed before publishing (a publish opens its own transaction)
        con.execute("BEGIN TRANSACTION")
        source = lake.current_snapshot(con)
        sql = readmission.feature_sql(
            readmission.lake_tables, start, "9999-01-01", with_outcome=False
        )
        frame = readmission.load_frame(con, sql)
        con.execute("COMMIT")
        risk = trained.predict(frame.matrix()) if frame.n else np.array([])
        import pyarrow as pa

        table = pa.table(
            {
                "contact_id": pa.array(frame.columns["contact_id"], pa.string()),
                "risk": pa.array(risk, pa.float64()),
                "model_version": pa.array([c.version] * frame.n, pa.string()),
            }
        )
        rel = con.from_arrow(table)
        snapshot = lake.publish(
            con,
            MODELS_SCHEMA,
            c.predictions.split("/")[1],
            rel,
            extra_info={
                "model": c.ref,
                "model_version": c.version,
                "trained_on_snapshot": trained.training.get("snapshot"),
                "scored_snapshot": source,
                "upstream": ["patient_administration/contacts", "population/persons"],
            },
        )
    finally:
        con.close()
    return frame.n, snapshot


def read_pinned() -> tuple[duckdb.DuckDBPyConnection, int]:
    """A read-only lake connection inside a transaction, and the snapshot it reads.

    Without the transaction each statement sees the newest snapshot at its own
    time, so a publish between reading ``current_snapshot`` and the queries would
    record one snapshot id beside data of another (as ``service.lake_pool``'s
    ``lake_read``). The caller closes the connection, which ends the transaction.
    """
    con = lake.connect(read_only=True)
    try:
        con.execute("BEGIN TRANSACTION")
        return con, lake.current_snapshot(con)
    except BaseException:
        con.close()
        raise


def _readmission_data(c: ModelCard) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """(feature frame columns, risks, snapshot) of the validation window at the newest snapshot."""
    con, snapshot = read_pinned()
    try:
        present = {f"{d}/{p}" for d, p in lake.list_tables(con)}
        if c.predictions not in present:
            raise UserError(
                f"no predictions product {c.predictions} in the lake; score the model first "
                f"(`regionlab model score {c.id}`)"
            )
        newest = con.execute(
            f"SELECT max(start_time) FROM {_table('patient_administration/contacts')}"
        ).fetchone()[0]
        end = (newest - dt.timedelta(days=FOLLOW_UP_DAYS)).strftime("%Y-%m-%d %H:%M:%S")
        start = c.training.window.end if c.training.window else "1900-01-01"
        sql = readmission.feature_sql(readmission.lake_tables, start, end)
        frame = readmission.load_frame(
            con,
            f"SELECT f.*, pr.risk FROM ({sql}) f JOIN {_table(c.predictions)} pr "
            "USING (contact_id) ORDER BY f.contact_id",
        )
    finally:
        con.close()
    return frame.columns, np.asarray(frame.columns["risk"], dtype=float), snapshot


SUBGROUP_COLUMNS = {
    "sex": "sex",
    "age_band": "age_band",
    "municipality": "municipality_code",
    "department": "department_code",
}


def _validate_readmission(c: ModelCard, rounds: int) -> tuple[dict[str, Any], int]:
    columns, risk, snapshot = _readmission_data(c)
    y = np.asarray(columns["readmitted"], dtype=int)
    trained = readmission.TrainedModel.load(model_file(c.id))
    groups = {g: columns[SUBGROUP_COLUMNS[g]] for g in c.subgroups}
    x = readmission.Frame(columns).matrix()
    current = {f: x[:, i] for i, f in enumerate(readmission.FEATURES)}
    report = evaluate_binary(
        c, y, risk, groups, reference=trained.reference, current=current, rounds=rounds
    )
    report["training"] = public_training(trained.training)
    return report, snapshot


# --- the entity model ----------------------------------------------------------------


def _spans_by_doc(rows: list[tuple]) -> dict[str, set[tuple[str, int, int]]]:
    out: dict[str, set[tuple[str, int, int]]] = defaultdict(set)
    for row_key, label, start, end in rows:
        out[str(row_key)].add((str(label), int(start), int(end)))
    return out


def _consensus(rows: list[tuple]) -> dict[str, set[tuple[str, int, int]]]:
    """Spans marked by more than half of a document's annotators (one annotator: all)."""
    annotators: dict[str, set[str]] = defaultdict(set)
    votes: dict[str, dict[tuple[str, int, int], int]] = defaultdict(lambda: defaultdict(int))
    for row_key, annotator, kind, label, start, end in rows:
        annotators[str(row_key)].add(str(annotator))
        if kind == "span" and start is not None:
            votes[str(row_key)][(str(label), int(start), int(end))] += 1
    return {
        doc: {s for s, v in votes[doc].items() if v * 2 > len(who)}
        for doc, who in annotators.items()
    }


def truth_agreement(
    rows: list[tuple],
    documents: set[str] | None,
    labels: list[str],
    min_cell: int = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Agreement of the ground truth's documents labelled by two or more annotators.

    ``rows`` are the labelled product's (row key, annotator, kind, label, start,
    end); only ``documents`` count (the test set; None: all). Exact span F1 per
    label, pooled over annotator pairs (2·Σ matches / Σ spans of both) as
    :func:`regionlab.agreement.span_f1s` computes it per pair; the number of
    documents goes through the small-cell rule.
    """
    from regionlab.agreement import span_f1s

    spans: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for row_key, annotator, kind, label, start, end in rows:
        doc = str(row_key)
        if documents is not None and doc not in documents:
            continue
        per = spans[str(annotator)][doc]  # an annotated document without spans is empty
        if kind == "span" and start is not None:
            per.add((int(start), int(end), str(label)))
    annotators_of: dict[str, int] = defaultdict(int)
    for by_doc in spans.values():
        for doc in by_doc:
            annotators_of[doc] += 1
    shared = {d for d, n in annotators_of.items() if n >= 2}
    pooled: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # label -> [2·matches, spans]
    pairs = 0
    for f in span_f1s(
        {a: {d: s for d, s in by.items() if d in shared} for a, by in spans.items()}, labels
    ):
        if f.documents:
            pairs += f.label == "*"
            pooled[f.label][0] += 2 * f.exact_matches
            pooled[f.label][1] += f.spans_a + f.spans_b
    n = len(shared)
    return {
        "documents_with_overlap": n if n == 0 or n >= min_cell else hidden_marker(min_cell),
        "annotator_pairs": pairs,
        "exact_span_f1": {
            ("all" if label == "*" else label): (m / t if t else None)
            for label, (m, t) in sorted(pooled.items())
        },
        "measure": "exact span F1 between annotators, pooled over annotator pairs",
    }


def _test_set_record(c: ModelCard) -> dict[str, Any] | None:
    from regionlab.aimodels import testsets

    if c.test_set is None:
        return None
    return testsets.load(get_settings().model_report_dir(c.id) / testsets.TEST_SET_FILE)


def _validate_spans(c: ModelCard, labels: list[str], rounds: int) -> tuple[dict[str, Any], int]:
    from regionlab.aimodels import testsets

    gt = c.ground_truth
    con, snapshot = read_pinned()
    try:
        present = {f"{d}/{p}" for d, p in lake.list_tables(con)}
        for ref, hint in ((gt.product, "pull the labelling task"),
                          (c.predictions, f"`regionlab model score {c.id}`")):  # fmt: skip
            if ref not in present:
                raise UserError(f"no product {ref} in the lake; {hint} first")
        truth_rows = con.execute(
            f"SELECT {gt.join.truth_key}, annotator, kind, label, span_start, span_end "
            f"FROM {_table(gt.product)}"
        ).fetchall()
        pred_rows = con.execute(
            f"SELECT {gt.join.prediction_key}, label, span_start, span_end "
            f"FROM {_table(c.predictions)}"
        ).fetchall()
        recorded = []
        if gt.agreement_from and lake_table_exists(con, "_regionlab", "quality_history"):
            recorded = [
                {"check": r[0], "status": r[1], "description": r[2]}
                for r in con.execute(
                    f'SELECT "check", status, description FROM {QUALITY_HISTORY.qualified} '
                    "WHERE product = ? AND category = 'agreement' "
                    'QUALIFY row_number() OVER (PARTITION BY "check" '
                    'ORDER BY checked_at DESC) = 1 ORDER BY "check"',
                    [gt.agreement_from],
                ).fetchall()
            ]
    finally:
        con.close()
    record = _test_set_record(c)
    documents = set(record["keys"]) if record else None
    if documents is not None:
        truth_rows = [r for r in truth_rows if str(r[0]) in documents]
    gold = _consensus(truth_rows)
    pred = _spans_by_doc(pred_rows)
    agreement = truth_agreement(truth_rows, documents, labels)
    agreement["recorded"] = recorded
    report = evaluate_spans(c, gold, pred, labels, agreement=agreement, rounds=rounds)
    if record is not None:
        report["test_set"] = testsets.public_draw(record, len(gold))
    else:
        report["test_set"] = {
            "drawn": None,
            "note": "no test set drawn: the ground truth is every labelled document"
            + (
                f"; run `regionlab labeling push {' '.join(testsets.labelled_source(c))} "
                f"--test-set {c.id}`"
                if c.test_set is not None
                else ""
            ),
        }
    return report, snapshot


# --- validate ------------------------------------------------------------------------


@dataclass
class Validation:
    model_id: str
    status: str
    report: dict[str, Any]
    json_path: Path
    html_path: Path


def _history_rows(c: ModelCard, report: dict[str, Any], snapshot: int) -> list[tuple]:
    now = dt.datetime.now(dt.UTC)
    run = f"validate-{uuid.uuid4().hex[:12]}"
    rows = []
    for j in [*report["judgements"], *report.get("disparity", []), *report.get("drift", [])]:
        value = "n/a" if j["value"] is None else f"{j['value']:.4f}"
        rows.append(
            (c.ref, snapshot, run, f"model.{j['name']}", CATEGORY,
             "blocking" if j["status"] == "block" else "warning",
             "passed" if j["status"] == "pass" else "failed", None, None,
             f"{j['name']} {value}: {j['reason']}", now)
        )  # fmt: skip
    rows.append(
        (c.ref, snapshot, run, "model.status", CATEGORY,
         "blocking" if report["status"] == "block" else "warning",
         "passed" if report["status"] == "pass" else "failed", None, None,
         f"model {c.id} v{c.version}: {report['status']} against models/{c.id}.yaml", now)
    )  # fmt: skip
    return rows


def _record(rows: list[tuple]) -> None:
    con = lake.connect()
    try:
        with lake.write_lock(con):
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in QUALITY_HISTORY.ddl:
                    con.execute(statement)
                con.executemany(QUALITY_HISTORY.insert, rows)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    finally:
        con.close()


ENTITY_LABELS = ["DIAGNOSE", "MEDICIN", "DOSIS", "UNDERSØGELSE"]


def validate(model_id: str, *, rounds: int = 1000, record: bool = True) -> Validation:
    """Validate one model on the newest snapshot: report JSON + HTML, quality history."""
    from regionlab.aimodels.report import write_html

    c = card(model_id)
    if c.output == "spans":
        report, snapshot = _validate_spans(c, ENTITY_LABELS, rounds)
    else:
        report, snapshot = _validate_readmission(c, rounds)
    report.update(
        model_id=c.id,
        model_ref=c.ref,
        title=c.title,
        version=c.version,
        initiative=c.initiative,
        ground_truth=c.ground_truth.product,
        predictions=c.predictions,
        snapshot_id=snapshot,
        validated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        synthetic_signal=c.synthetic_signal.strip(),
    )
    json_path = report_file(c.id)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n",
                         encoding="utf-8")  # fmt: skip
    html_path = write_html(report, report_file(c.id, "html"))
    with history_file(c.id).open("a", encoding="utf-8") as fh:
        headline = {k: v["value"] for k, v in report["headline"].items()}
        fh.write(json.dumps({"validated_at": report["validated_at"], "snapshot_id": snapshot,
                             "status": report["status"], "headline": headline}) + "\n")  # fmt: skip
    if record:
        _record(_history_rows(c, report, snapshot))
    return Validation(c.id, report["status"], report, json_path, html_path)
