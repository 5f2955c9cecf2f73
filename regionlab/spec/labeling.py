"""Labelling tasks in a product spec, and the Label Studio config they imply.

A steward declares *what* to annotate (text column, entity labels, document
classes, sample, pre-annotation); the XML label config is generated from
that, or given explicitly for special cases. Parsing and generating the XML
lives here, in the core, so ``regionlab check`` validates a task without
importing anything from Label Studio, and ``labeling/`` validates annotations
against exactly the same reading of the config.

Tasks always carry the text in the data field ``text``: the config's
``<Text>`` tag must read ``$text``, whatever the product's column is called.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from xml.sax.saxutils import quoteattr

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from regionlab.spec.models import Product

NAME = r"^[a-z][a-z0-9_]*$"
#: The task data field that holds the text, in every project regionlab creates.
TEXT_FIELD = "text"
#: Label Studio refuses project titles longer than this.
MAX_TITLE = 50
#: Control names in generated configs.
LABELS_NAME = "entities"
CHOICES_NAME = "document_class"


class PreAnnotation(StrEnum):
    none = "none"
    dictionary = "dictionary"


class LabelingKind(StrEnum):
    ner = "ner"
    classification = "classification"
    both = "both"


class Overlap(BaseModel):
    """How many annotators see the same task, so agreement is measured in the normal queue.

    Label Studio's defaults give each task to one annotator; agreement then needs
    hand-made double annotations. ``annotators`` becomes the project's
    ``maximum_annotations`` and ``share`` its ``overlap_cohort_percentage``.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    annotators: int = Field(2, ge=2, le=10, description="Annotators per overlapping task.")
    share: float = Field(
        0.2, gt=0, le=1, description="Share of the sample shown to that many annotators."
    )

    @property
    def percentage(self) -> int:
        return max(1, round(self.share * 100))


class LabelingTask(BaseModel):
    """One annotation project over a sample of a product's text column."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    id: str = Field(pattern=NAME, description="Unique within the product, e.g. 'entities'.")
    title: str = Field(description="What annotators see as the project description.")
    instructions: str | None = Field(None, description="Guidelines shown to annotators.")
    text_column: str = Field(description="Published varchar column holding the text.")
    row_key: list[str] | None = Field(
        None, description="Published columns that identify a row; default: the product's row_key."
    )
    labels: list[str] = Field(
        default_factory=list, description="Entity labels (spans), e.g. DIAGNOSE, MEDICIN."
    )
    choices: list[str] = Field(
        default_factory=list, description="Document classes (one choice per document)."
    )
    label_config: str | None = Field(
        None, description="Explicit Label Studio XML instead of labels/choices."
    )
    sample_size: int = Field(100, ge=1, le=100_000)
    seed: int = Field(0, ge=0, description="Changes which rows are sampled; stable per seed.")
    pre_annotation: PreAnnotation = PreAnnotation.none
    overlap: Overlap | None = Field(
        None, description="Tasks shown to several annotators (agreement); default: one each."
    )

    @property
    def queue_settings(self) -> dict[str, int]:
        """Label Studio project fields that distribute tasks to annotators."""
        if self.overlap is None:
            return {"maximum_annotations": 1, "overlap_cohort_percentage": 100}
        return {
            "maximum_annotations": self.overlap.annotators,
            "overlap_cohort_percentage": self.overlap.percentage,
        }

    @model_validator(mode="after")
    def _labels_or_config(self) -> LabelingTask:
        if self.label_config is not None and (self.labels or self.choices):
            raise ValueError("give either `labels`/`choices` or an explicit `label_config`")
        if self.label_config is None and not (self.labels or self.choices):
            raise ValueError("give `labels` (entities), `choices` (classes) or a `label_config`")
        for name in ("labels", "choices"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"`{name}` has duplicates")
        return self

    def key_columns(self, product: Product) -> list[str]:
        return list(self.row_key or product.row_key)

    def config_xml(self) -> str:
        """The label config: the explicit one, or generated from labels and choices."""
        if self.label_config is not None:
            return self.label_config.strip()
        return generate_config(self.labels, self.choices, self.instructions)

    def schema(self) -> ConfigSchema:
        return parse_config(self.config_xml())

    @property
    def kind(self) -> LabelingKind:
        schema = self.schema()
        if schema.labels and schema.choices:
            return LabelingKind.both
        return LabelingKind.ner if schema.labels else LabelingKind.classification


def project_title(product_ref: str, task_id: str) -> str:
    """The Label Studio project title: how push and pull find the project again."""
    return f"{product_ref}:{task_id}"


def generate_config(labels: list[str], choices: list[str], instructions: str | None = None) -> str:
    lines = ["<View>"]
    if instructions:
        lines.append(f"  <Header value={quoteattr(instructions.strip())}/>")
    if labels:
        lines.append(f'  <Labels name="{LABELS_NAME}" toName="{TEXT_FIELD}">')
        lines += [f"    <Label value={quoteattr(label)}/>" for label in labels]
        lines.append("  </Labels>")
    lines.append(f'  <Text name="{TEXT_FIELD}" value="${TEXT_FIELD}"/>')
    if choices:
        lines.append(
            f'  <Choices name="{CHOICES_NAME}" toName="{TEXT_FIELD}" choice="single" '
            'showInLine="true">'
        )
        lines += [f"    <Choice value={quoteattr(choice)}/>" for choice in choices]
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines)


class LabelConfigError(ValueError):
    """The XML does not parse, or lacks what regionlab needs from a config."""


@dataclass(frozen=True)
class ConfigSchema:
    """What an annotation may contain under one label config."""

    text_name: str
    #: control name -> allowed entity labels (``<Labels>``)
    labels: dict[str, frozenset[str]] = field(default_factory=dict)
    #: control name -> allowed classes (``<Choices>``)
    choices: dict[str, frozenset[str]] = field(default_factory=dict)
    #: control names of ``<Choices>`` that allow several choices
    multiple: frozenset[str] = frozenset()

    @property
    def entity_labels(self) -> frozenset[str]:
        return frozenset().union(*self.labels.values()) if self.labels else frozenset()


def parse_config(xml: str) -> ConfigSchema:
    """Read the parts of a label config regionlab relies on; raise LabelConfigError otherwise."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise LabelConfigError(f"not well-formed XML: {exc}") from None
    if root.tag != "View":
        raise LabelConfigError(f"the root tag is <{root.tag}>, expected <View>")
    texts = [e for e in root.iter("Text") if e.get("value") == f"${TEXT_FIELD}"]
    if len(texts) != 1 or not texts[0].get("name"):
        raise LabelConfigError(
            f'needs exactly one <Text name="..." value="${TEXT_FIELD}"/> (tasks carry the text '
            f"in the field '{TEXT_FIELD}')"
        )
    text_name = str(texts[0].get("name"))
    labels: dict[str, frozenset[str]] = {}
    choices: dict[str, frozenset[str]] = {}
    multiple: set[str] = set()
    for tag, child, out in (("Labels", "Label", labels), ("Choices", "Choice", choices)):
        for control in root.iter(tag):
            name = control.get("name")
            if not name:
                raise LabelConfigError(f"a <{tag}> has no name")
            if control.get("toName") != text_name:
                raise LabelConfigError(f'<{tag} name="{name}"> must have toName="{text_name}"')
            values = [c.get("value") for c in control.iter(child)]
            if not values or any(not v for v in values):
                raise LabelConfigError(f'<{tag} name="{name}"> needs <{child} value="..."/> items')
            if name in labels or name in choices:
                raise LabelConfigError(f"two controls are named '{name}'")
            out[name] = frozenset(str(v) for v in values)
            if tag == "Choices" and control.get("choice", "single") == "multiple":
                multiple.add(name)
    if not labels and not choices:
        raise LabelConfigError("needs a <Labels> or <Choices> control on the text")
    return ConfigSchema(text_name, labels, choices, frozenset(multiple))


Finding = tuple[str, str, str]


def labeling_checks(product: Product) -> Iterator[Finding]:
    """Cross-field checks of a product's labelling tasks, as (field, message, hint)."""
    from regionlab.spec.vocab import Classification, ColumnType, Pseudonymisation

    published = {c.name for c in product.published_columns}
    seen: set[str] = set()
    for task in product.labeling:
        where = f"labeling[{task.id}]"
        if task.id in seen:
            yield f"{where}.id", "duplicate labelling task id", "give every task its own id"
        seen.add(task.id)
        if len(project_title(product.ref, task.id)) > MAX_TITLE:
            yield (
                f"{where}.id",
                f"'{project_title(product.ref, task.id)}' is longer than Label Studio's "
                f"{MAX_TITLE}-character project title",
                "use a shorter task id",
            )
        col = product.published(task.text_column)
        if col is None:
            yield (
                f"{where}.text_column",
                f"no published column '{task.text_column}'",
                f"choose one of: {', '.join(sorted(published))}",
            )
        elif col.type is not ColumnType.varchar:
            yield f"{where}.text_column", f"'{col.name}' is {col.type}, not varchar", ""
        elif col.classification is Classification.direct_identifier:
            yield f"{where}.text_column", f"'{col.name}' is a direct identifier", ""
        for i, key in enumerate(task.key_columns(product)):
            pub = product.published(key)
            if pub is None:
                yield f"{where}.row_key[{i}]", f"no published column '{key}'", ""
            elif pub.rule is Pseudonymisation.person_key or pub.classification in (
                Classification.direct_identifier,
                Classification.quasi_identifier,
            ):
                yield (
                    f"{where}.row_key[{i}]",
                    f"'{key}' identifies a person and must not be sent to Label Studio",
                    "use the product's own row id (e.g. note_id)",
                )
        try:
            schema = task.schema()
        except LabelConfigError as exc:
            yield f"{where}.label_config", f"label config is not usable: {exc}", ""
            continue
        if task.pre_annotation is PreAnnotation.dictionary and not (
            schema.entity_labels & {"DIAGNOSE", "MEDICIN", "DOSIS"}
        ):
            yield (
                f"{where}.pre_annotation",
                "the dictionary model predicts DIAGNOSE, MEDICIN and DOSIS; none is a label here",
                "add those labels or set pre_annotation: none",
            )
