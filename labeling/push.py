"""Push a product's labelling task to Label Studio: project, sample, pre-annotations.

- The project is found again by its title ``<domain>/<product>:<task>``;
  its label config is brought in step with the spec.
- The sample is a bottom-k sample on ``md5(seed:row_key)``: the same rows for
  the same seed on every run and every machine, and a new row only enters it
  by displacing one whose hash ranks lower — no RNG state, no row order.
- A task carries exactly ``text``, ``row_key`` and ``snapshot_id`` (the lake
  snapshot it was read from). Never a person key or another column: the
  text column itself was scrubbed of CPR numbers, phone numbers and register
  names before it reached the lake.
- Tasks already in the project (same row key) are not imported again;
  missing predictions of the current dictionary model are added to them.
- ``test_set=MODEL`` pushes the model card's validation test set instead of the
  task's sample (:mod:`regionlab.aimodels.testsets`: stratified by the card's
  subgroups, seeded, overlap in every stratum). Its overlap tasks carry
  ``meta.overlap`` and get that many annotators through the task's own
  ``overlap`` field; Label Studio re-deals its overlap cohort on every import,
  so every push re-applies ``meta.overlap`` afterwards. The draw is saved beside
  the model's reports, where ``regionlab validate`` reads it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from labeling import preannotate
from labeling.config import label_config
from regionlab import lake
from regionlab.errors import UserError
from regionlab.spec import Product, load_domains
from regionlab.spec.labeling import TEXT_FIELD, LabelingTask, PreAnnotation, project_title
from regionlab.sql import quote_ident, row_key_sql

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

log = logging.getLogger(__name__)

PAGE_SIZE = 500
IMPORT_BATCH = 500


def resolve(product_ref: str, task_id: str) -> tuple[Product, LabelingTask]:
    """The product (``domain/product`` or a unique product id) and its labelling task."""
    registry = load_domains()
    if "/" in product_ref:
        product = registry.products.get(product_ref)
    else:
        matches = [p for p in registry.products.values() if p.id == product_ref]
        product = matches[0] if len(matches) == 1 else None
    if product is None:
        raise UserError(
            f"no product '{product_ref}' in domains/: name it as <domain>/<product>, "
            f"e.g. {', '.join(sorted(r for r, p in registry.products.items() if p.labeling)[:3])}"
        )
    task = next((t for t in product.labeling if t.id == task_id), None)
    if task is None:
        known = ", ".join(t.id for t in product.labeling) or "none declared"
        raise UserError(
            f"{product.ref} has no labelling task '{task_id}' (tasks: {known}); declare it under "
            f"`labeling:` in domains/{product.domain}/{product.id}.yaml"
        )
    return product, task


def find_project(sdk: LabelStudio, title: str) -> Any | None:
    matches = [p for p in sdk.projects.list(title=title) if p.title == title]
    return min(matches, key=lambda p: p.id) if matches else None


def sample(
    product: Product, task: LabelingTask, *, limit: int | None = None
) -> tuple[pl.DataFrame, int]:
    """The task's sample (row_key, text) from the current lake snapshot, and that snapshot."""
    n = min(limit, task.sample_size) if limit is not None else task.sample_size
    con = lake.connect(read_only=True)
    try:
        snapshot = lake.current_snapshot(con)
        table = lake.table_name(product.domain, product.id)
        text = quote_ident(task.text_column)
        try:
            frame = con.execute(
                f"""SELECT row_key, text FROM (
                        SELECT {row_key_sql(task.key_columns(product))} AS row_key,
                               CAST({text} AS VARCHAR) AS text
                        FROM {table} WHERE {text} IS NOT NULL AND trim({text}) <> '')
                    ORDER BY md5(? || ':' || row_key), row_key LIMIT ?""",
                [str(task.seed), n],
            ).pl()
        except Exception as exc:  # duckdb.CatalogException: the product is not published yet
            if "does not exist" in str(exc):
                raise UserError(
                    f"{product.ref} is not in the lake yet: run the pipelines first "
                    f"(`make demo`, or `regionlab run --product {product.ref}`)"
                ) from None
            raise
    finally:
        con.close()
    if frame["row_key"].is_duplicated().any():
        raise UserError(
            f"{product.ref}: the row key {task.key_columns(product)} is not unique in the lake, "
            "so tasks could not be matched back to rows; fix the product's row_key"
        )
    return frame, snapshot


def sample_keys(product: Product, task: LabelingTask, keys: list[str]) -> tuple[pl.DataFrame, int]:
    """(row_key, text) of the given row keys, in their order, from the current snapshot."""
    con = lake.connect(read_only=True)
    try:
        con.execute("BEGIN TRANSACTION")
        snapshot = lake.current_snapshot(con)
        table = lake.table_name(product.domain, product.id)
        frame = con.execute(
            f"""SELECT k.row_key, t.text FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS k(row_key, i)
                JOIN (SELECT {row_key_sql(task.key_columns(product))} AS row_key,
                             CAST({quote_ident(task.text_column)} AS VARCHAR) AS text
                      FROM {table}) t USING (row_key)
                ORDER BY k.i""",
            [keys],
        ).pl()
    finally:
        con.close()
    return frame, snapshot


def _test_set(model_id: str, product: Product, task: LabelingTask):
    """The card's drawn test set for this product's task (or a user error naming the card)."""
    from regionlab.aimodels import testsets
    from regionlab.aimodels.card import get_card
    from regionlab.settings import get_settings

    card = get_card(model_id, get_settings().model_cards_dir, load_domains())
    source = testsets.labelled_source(card)
    if source != (product.ref, task.id):
        raise UserError(
            f"models/{model_id}.yaml: its ground truth comes from {source[0]} task {source[1]}, "
            f"not {product.ref} task {task.id}; run `regionlab labeling push {source[0]} "
            f"{source[1]} --test-set {model_id}`"
        )
    drawn, snapshot = testsets.draw_from_lake(card, task.key_columns(product), task.text_column)
    return card, drawn, snapshot


def _apply_task_overlap(sdk: LabelStudio, project_id: int, wanted: dict[str, int]) -> int:
    """Give every task its ``meta.overlap`` annotators (and ``wanted[row_key]``); returns count.

    A task whose annotations already reach the overlap stays labelled; one below it
    is put back in the queue (``is_labeled`` false) so the next annotator gets it.
    """
    done = 0
    for t in sdk.tasks.list(project=project_id, page_size=PAGE_SIZE, fields="all"):
        key = str((t.data or {}).get("row_key"))
        meta = dict(t.meta or {})
        n = max(int(meta.get("overlap") or 1), wanted.get(key, 1))
        if n < 2:
            continue
        update: dict[str, Any] = {}
        if int(meta.get("overlap") or 1) != n:
            update["meta"] = {**meta, "overlap": n}
        if int(t.overlap or 1) < n:  # more (Label Studio's own cohort) is left as it is
            update["overlap"] = n
            update["is_labeled"] = int(t.total_annotations or 0) >= n
        if update:
            sdk.tasks.update(id=str(t.id), **update)
        done += 1
    return done


def _queue_settings(project: Any) -> dict[str, int]:
    return {
        "maximum_annotations": int(project.maximum_annotations or 1),
        "overlap_cohort_percentage": int(project.overlap_cohort_percentage or 100),
    }


def _existing_tasks(sdk: LabelStudio, project_id: int) -> dict[str, int]:
    """row key -> task id of every task already in the project."""
    out: dict[str, int] = {}
    for task in sdk.tasks.list(project=project_id, page_size=PAGE_SIZE):
        key = (task.data or {}).get("row_key")
        if key is not None:
            out.setdefault(str(key), int(task.id))
    return out


@dataclass(frozen=True)
class PushResult:
    project_id: int
    title: str
    url: str
    snapshot_id: int
    sampled: int
    created: int
    existing: int
    predictions: int
    model_version: str | None
    test_set: str | None = None
    overlap_tasks: int = 0
    """Tasks with more than one annotator through their own overlap (test-set overlap)."""


def push(
    product_ref: str,
    task_id: str,
    *,
    sdk: LabelStudio | None = None,
    base_url: str | None = None,
    limit: int | None = None,
    test_set: str | None = None,
) -> PushResult:
    """Create or update the project and import the sample (or a model's test set); rerunnable."""
    from labeling import server

    product, task = resolve(product_ref, task_id)
    if sdk is None:
        running = server.status()
        sdk = server.client(running)
        base_url = running.url if running else base_url
    title = project_title(product.ref, task.id)
    xml = label_config(task)
    schema = task.schema()
    wanted: dict[str, int] = {}
    if test_set is None:
        frame, snapshot = sample(product, task, limit=limit)
    else:
        card, drawn, drawn_at = _test_set(test_set, product, task)
        frame, snapshot = sample_keys(product, task, drawn.keys)
        assert card.test_set is not None
        wanted = {k: card.test_set.annotators for k in drawn.overlap}

    project = find_project(sdk, title)
    description = f"{task.title}\n\nKilde: {product.ref} ({product.title})"
    if project is None:
        project = sdk.projects.create(
            title=title,
            description=description,
            label_config=xml,
            expert_instruction=task.instructions or "",
            show_instruction=bool(task.instructions),
            **task.queue_settings,
        )
    else:
        if (project.label_config or "").strip() != xml:
            project = sdk.projects.update(project.id, label_config=xml, description=description)
        if _queue_settings(project) != task.queue_settings:
            project = sdk.projects.update(project.id, **task.queue_settings)
    project_id = int(project.id)

    existing = _existing_tasks(sdk, project_id)
    version = None
    control = next(iter(sorted(schema.labels)), None)
    if task.pre_annotation is PreAnnotation.dictionary and control is not None:
        version = preannotate.model_version()

    def predictions(text: str) -> list[dict]:
        assert version is not None and control is not None
        found = preannotate.predict(text, schema.labels[control])
        return preannotate.to_result(text, found, control, schema.text_name)

    new = frame.filter(~pl.col("row_key").is_in(list(existing)))
    payload = []
    for row_key, text in new.iter_rows():
        item: dict[str, Any] = {
            "data": {TEXT_FIELD: text, "row_key": row_key, "snapshot_id": snapshot},
            "meta": {"product": product.ref, "labeling_task": task.id},
        }
        if test_set is not None:
            item["meta"]["test_set"] = test_set
            if row_key in wanted:
                item["meta"]["overlap"] = wanted[row_key]
        if version is not None:
            item["predictions"] = [{"model_version": version, "result": predictions(text)}]
        payload.append(item)
    for i in range(0, len(payload), IMPORT_BATCH):
        sdk.projects.import_tasks(project_id, request=payload[i : i + IMPORT_BATCH])

    added = len(payload) if version is not None else 0
    if version is not None and existing:
        added += _add_missing_predictions(sdk, project_id, existing, frame, version, predictions)
    if version is not None:
        sdk.projects.update(project_id, model_version=version)
    overlap_tasks = _apply_task_overlap(sdk, project_id, wanted)
    if test_set is not None:
        from regionlab.aimodels import testsets
        from regionlab.settings import get_settings

        path = get_settings().model_report_dir(test_set) / testsets.TEST_SET_FILE
        testsets.save(path, card, drawn, drawn_at)
    log.info("pushed %s: %d new tasks, %d already there", title, len(payload), len(existing))
    return PushResult(
        project_id=project_id,
        title=title,
        url=f"{base_url}/projects/{project_id}" if base_url else f"/projects/{project_id}",
        snapshot_id=snapshot,
        sampled=frame.height,
        created=len(payload),
        existing=frame.height - len(payload),
        predictions=added,
        model_version=version,
        test_set=test_set,
        overlap_tasks=overlap_tasks,
    )


def _add_missing_predictions(sdk, project_id, existing, frame, version, predictions) -> int:
    """Predictions of the current model for sampled tasks that were imported earlier."""
    have = {
        int(p.task)
        for p in sdk.predictions.list(project=project_id)
        if p.model_version == version and p.task is not None
    }
    texts = dict(frame.iter_rows())
    added = 0
    for row_key, task_id in existing.items():
        if task_id in have or row_key not in texts:
            continue
        sdk.predictions.create(
            task=task_id, result=predictions(texts[row_key]), model_version=version
        )
        added += 1
    return added
