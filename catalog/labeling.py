"""Labelled products and their Label Studio projects, from the manifests ``pull`` writes.

Each ``regionlab labeling pull`` writes ``var/labeling/manifests/<name>.json``.
From one manifest this module builds:

- the Label Studio project as a dataset on platform ``labelstudio``, named by
  the task (``regionlab.<domain>.<product>.<task>``) rather than the server's
  project id, so a re-created server does not create a second entity; the id
  and URL are properties. Its upstream is the source product (the sample).
- the labelled product ``regionlab.lake.labels.<name>`` (platform duckdb, like
  every lake table) with its schema, and upstream lineage to both the source
  product and the Label Studio project.

The manifest is read as plain JSON (its shape is documented in
``labeling/pull.py``), so the catalogue does not import the labelling package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from datahub.emitter import mce_builder as b
from datahub.metadata.schema_classes import (
    DataPlatformInfoClass,
    DatasetLineageTypeClass,
    DatasetPropertiesClass,
    NumberTypeClass,
    OtherSchemaClass,
    PlatformTypeClass,
    SchemaFieldClass,
    SchemaFieldDataTypeClass,
    SchemaMetadataClass,
    StatusClass,
    StringTypeClass,
    SubTypesClass,
    TimeTypeClass,
    UpstreamClass,
    UpstreamLineageClass,
)
from pydantic import BaseModel, ConfigDict

from catalog import urns
from catalog.common import MCP, proposal, props, stamp
from regionlab.settings import get_settings

PLATFORM = "labelstudio"
PROJECT_SUBTYPE = "Label Studio Project"
LABELLED_SUBTYPE = "Labelled Data Product"

_TYPES = {
    "varchar": StringTypeClass,
    "bigint": NumberTypeClass,
    "integer": NumberTypeClass,
    "double": NumberTypeClass,
    "timestamp": TimeTypeClass,
}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Column(_Loose):
    name: str
    type: str
    description: str = ""


class _Task(_Loose):
    id: str
    title: str
    kind: str
    labels: list[str] = []
    choices: list[str] = []
    sample_size: int | None = None
    seed: int | None = None
    pre_annotation: str | None = None


class _Project(_Loose):
    project_id: int
    project_title: str
    url: str | None = None
    model_version: str | None = None


class LabelingManifest(_Loose):
    """The fields of a pull manifest the catalogue uses."""

    labelled_product: str  # labels/<name>
    table: str
    snapshot_id: int
    run_id: str
    source_product: str  # <domain>/<product>
    source_snapshot_ids: list[int] = []
    labeling_task: _Task
    labelstudio: _Project
    counts: dict[str, int] = {}
    agreement: dict[str, list[dict]] = {}
    columns: list[_Column] = []


def manifests_dir() -> Path:
    return get_settings().label_manifests_dir


def load_manifests(folder: Path | None = None) -> list[LabelingManifest]:
    """Every manifest in the folder, sorted by labelled product; none when it is absent."""
    folder = folder or manifests_dir()
    if not folder.is_dir():
        return []
    found = [
        LabelingManifest.model_validate(json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(folder.glob("*.json"))
    ]
    return sorted(found, key=lambda m: m.labelled_product)


def project_dataset(manifest: LabelingManifest) -> str:
    """URN of the Label Studio project, stable across servers: named by product and task."""
    domain, _, product = manifest.source_product.partition("/")
    name = f"regionlab.{domain}.{product}.{manifest.labeling_task.id}"
    return b.make_dataset_urn(PLATFORM, name, urns.ENV)


def labelled_dataset(manifest: LabelingManifest) -> str:
    return urns.product_dataset(manifest.labelled_product)


def _agreement_props(manifest: LabelingManifest) -> dict[str, object]:
    out: dict[str, object] = {}
    for k in manifest.agreement.get("kappa", []):
        pair = "~".join(k.get("annotators", []))
        if k.get("kappa") is not None:
            out[f"kappa.{k['control']}.{pair}"] = f"{k['kappa']:.4f}"
    for f in manifest.agreement.get("span_f1", []):
        pair = "~".join(f.get("annotators", []))
        label = "all" if f["label"] == "*" else f["label"]
        if f.get("exact_f1") is not None:
            out[f"span_f1_exact.{label}.{pair}"] = f"{f['exact_f1']:.4f}"
            out[f"span_f1_overlap.{label}.{pair}"] = f"{f['overlap_f1']:.4f}"
    return out


def _schema(manifest: LabelingManifest, when: int) -> SchemaMetadataClass:
    fields = [
        SchemaFieldClass(
            fieldPath=c.name,
            type=SchemaFieldDataTypeClass(type=_TYPES.get(c.type, StringTypeClass)()),
            nativeDataType=c.type.upper(),
            description=c.description,
            nullable=c.name not in ("row_key", "annotation_id", "label"),
        )
        for c in manifest.columns
    ]
    return SchemaMetadataClass(
        schemaName=manifest.table,
        platform=urns.platform(urns.PLATFORM),
        version=0,
        hash="",
        platformSchema=OtherSchemaClass(rawSchema=""),
        fields=fields,
        created=stamp(when),
        lastModified=stamp(when),
    )


def manifest_mcps(manifest: LabelingManifest, when: int) -> list[MCP]:
    """Proposals for one labelled product and its Label Studio project."""
    source = urns.product_dataset(manifest.source_product)
    project = project_dataset(manifest)
    labelled = labelled_dataset(manifest)
    task, ls = manifest.labeling_task, manifest.labelstudio
    project_props = props(
        {
            "project_id": ls.project_id,
            "project_title": ls.project_title,
            "url": ls.url,
            "model_version": ls.model_version,
            "source_product": manifest.source_product,
            "task_kind": task.kind,
            "labels": ", ".join(task.labels),
            "choices": ", ".join(task.choices),
            "sample_size": task.sample_size,
            "seed": task.seed,
            "pre_annotation": task.pre_annotation,
        }
    )
    labelled_props = props(
        {
            "product_ref": manifest.labelled_product,
            "source_product": manifest.source_product,
            "source_snapshots": ", ".join(str(s) for s in manifest.source_snapshot_ids),
            "labelstudio_project": ls.project_id,
            "last_snapshot": manifest.snapshot_id,
            "last_run_id": manifest.run_id,
            **{f"count.{k}": v for k, v in sorted(manifest.counts.items())},
            **_agreement_props(manifest),
        }
    )

    def upstream(urn: str, via: str) -> UpstreamClass:
        return UpstreamClass(
            dataset=urn,
            type=DatasetLineageTypeClass.TRANSFORMED,
            auditStamp=stamp(when),
            properties={"via": via},
        )

    return [
        proposal(
            urns.platform(PLATFORM),
            DataPlatformInfoClass(
                name=PLATFORM,
                type=PlatformTypeClass.OTHERS,
                datasetNameDelimiter=".",
                displayName="Label Studio",
            ),
            when,
        ),
        proposal(
            project,
            DatasetPropertiesClass(
                name=ls.project_title,
                description=task.title,
                externalUrl=ls.url,
                customProperties=project_props,
            ),
            when,
        ),
        proposal(project, SubTypesClass(typeNames=[PROJECT_SUBTYPE]), when),
        proposal(project, StatusClass(removed=False), when),
        proposal(
            project,
            UpstreamLineageClass(upstreams=[upstream(source, "regionlab labeling push (sample)")]),
            when,
        ),
        proposal(
            labelled,
            DatasetPropertiesClass(
                name=manifest.labelled_product,
                description=(
                    f"Annotations of {manifest.source_product} ({task.title}) from Label Studio: "
                    "one row per span or document class, validated against the label config."
                ),
                qualifiedName=manifest.table,
                customProperties=labelled_props,
            ),
            when,
        ),
        proposal(labelled, SubTypesClass(typeNames=[LABELLED_SUBTYPE]), when),
        proposal(labelled, StatusClass(removed=False), when),
        proposal(labelled, _schema(manifest, when), when),
        proposal(
            labelled,
            UpstreamLineageClass(
                upstreams=[
                    upstream(source, "row key and text of the annotated sample"),
                    upstream(project, "regionlab labeling pull (annotations)"),
                ]
            ),
            when,
        ),
    ]


def labeling_mcps(manifests: Iterable[LabelingManifest], when: int) -> list[MCP]:
    """Proposals for every labelled product; the platform entity once."""
    out: list[MCP] = []
    seen: set[tuple[str, str]] = set()
    for manifest in manifests:
        for mcp in manifest_mcps(manifest, when):
            key = (str(mcp.entityUrn), type(mcp.aspect).__name__)
            if key in seen:
                continue
            seen.add(key)
            out.append(mcp)
    return out
