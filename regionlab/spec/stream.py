"""The streaming product kind: a product fed by a broker topic of FHIR R4 resources.

A steward declares the topic, which resource types it carries, how each column
is read from a resource (a small dotted path such as ``subject.identifier.value``
or ``code.coding[0].code``), which column holds the CPR number (it becomes the
person key, as in the batch path), the event's id and time, and the freshness
objective: how long, at the stated percentile, an event may take from its own
timestamp to being queryable in the lake. Quality rules of a streaming product
are judged per event (each rule's row predicate), so a failing event is
quarantined instead of blocking the stream.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: A path into a FHIR resource: dotted element names, each optionally indexed ``[n]``.
FHIR_PATH = r"^[a-zA-Z][a-zA-Z0-9]*(\[[0-9]+\])?(\.[a-zA-Z][a-zA-Z0-9]*(\[[0-9]+\])?)*$"
TOPIC = r"^[a-z][a-z0-9_.-]*$"

_SEGMENT = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)(?:\[([0-9]+)\])?$")


class FhirResourceType(StrEnum):
    """FHIR R4 resource types a topic may carry (validated with ``fhir.resources``)."""

    Encounter = "Encounter"
    Observation = "Observation"
    MedicationAdministration = "MedicationAdministration"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class FreshnessObjective(_Spec):
    """How fresh the product promises to be: event time → queryable in the lake."""

    max_lag_seconds: float = Field(
        gt=0, description="Largest lag (seconds) at the percentile below, e.g. 5."
    )
    percentile: int = Field(95, ge=50, le=100, description="Percentile of events, e.g. 95.")


class MicroBatch(_Spec):
    """When the consumer closes a micro-batch: whichever comes first."""

    max_events: int = Field(500, ge=1, le=100_000)
    max_wait_seconds: float = Field(1.0, ge=0.05, le=60)


class StreamSource(_Spec):
    """Where a streaming product's events come from and how they become rows."""

    topic: str = Field(pattern=TOPIC, description="Broker queue the events arrive on.")
    resource_types: list[FhirResourceType] = Field(min_length=1)
    description: str | None = None
    mapping: dict[str, str] = Field(
        min_length=1,
        description="Source column → path in the resource (dotted element names, `[n]` "
        "picks a list item; e.g. `subject.identifier.value`, `code.coding[0].code`). "
        "A path the resource does not have gives an empty value.",
    )
    person_column: str = Field(description="Source column holding the CPR number.")
    event_id_column: str = Field(description="Source column with the event's stable id.")
    event_time_column: str = Field(
        description="Source timestamp column with the event's own time (freshness runs from it)."
    )
    freshness: FreshnessObjective
    batch: MicroBatch = Field(default_factory=MicroBatch)
    flush_every_seconds: int = Field(
        300, ge=5, description="How often inlined rows are written out to Parquet."
    )
    inline_rows: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Micro-batches of at most this many rows stay in the catalogue database "
        "until the next flush.",
    )

    @field_validator("mapping")
    @classmethod
    def _paths(cls, mapping: dict[str, str]) -> dict[str, str]:
        for column, path in mapping.items():
            if not re.match(FHIR_PATH, path):
                raise ValueError(
                    f"mapping.{column}: {path!r} is not a path; write element names joined by "
                    "dots, with [n] for a list item, e.g. code.coding[0].code"
                )
        return mapping


def path_segments(path: str) -> list[tuple[str, int | None]]:
    """``code.coding[0].code`` → ``[("code", None), ("coding", 0), ("code", None)]``."""
    out: list[tuple[str, int | None]] = []
    for part in path.split("."):
        match = _SEGMENT.match(part)
        if match is None:
            raise ValueError(f"{path!r} is not a path")
        out.append((match.group(1), int(match.group(2)) if match.group(2) else None))
    return out
