"""Quality rules a steward can declare; ``quality/`` turns them into GX expectations.

One model per rule type, discriminated by ``type``, so a typo in a rule names
exactly the field that is wrong and the JSON Schema offers each type's fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from regionlab.spec.vocab import CodeSystem, Kahn, Severity

RULE_ID = r"^[a-z][a-z0-9_]*$"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID, description="Stable rule id, unique within the product.")
    description: str | None = Field(None, description="What the rule protects, in plain words.")
    kahn: Kahn = Field(description="Kahn category: conformance, completeness or plausibility.")
    severity: Severity = Field(Severity.blocking, description="blocking stops the publish.")
    threshold: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of rows allowed to fail (0 = none), as in OHDSI's DQD.",
    )

    def columns_used(self) -> list[str]:
        """Published columns of this product the rule reads."""
        return []


class _ColumnRule(_Rule):
    column: str = Field(description="Published column the rule checks.")
    quarantine: bool = Field(
        False,
        description="Move failing rows to quarantine before the audit instead of only "
        "counting them (row-level rules only).",
    )

    def columns_used(self) -> list[str]:
        return [self.column]


class NotNull(_ColumnRule):
    type: Literal["not_null"]


class Unique(_ColumnRule):
    type: Literal["unique"]


class UniqueCombination(_Rule):
    type: Literal["unique_combination"]
    columns: list[str] = Field(min_length=2)

    def columns_used(self) -> list[str]:
        return list(self.columns)


class InSet(_ColumnRule):
    type: Literal["in_set"]
    values: list[str | int | float | bool] = Field(min_length=1)


class InCodeList(_ColumnRule):
    type: Literal["in_code_list"]
    code_system: CodeSystem | None = Field(
        None, description="Defaults to the column's code_system."
    )


class Regex(_ColumnRule):
    type: Literal["regex"]
    pattern: str


class Between(_ColumnRule):
    type: Literal["between"]
    min: float | dt.date | dt.datetime | None = None
    max: float | dt.date | dt.datetime | None = None


class GreaterOrEqual(_ColumnRule):
    """``column >= other`` on every row where both are present (e.g. end after start)."""

    type: Literal["greater_or_equal"]
    other: str

    def columns_used(self) -> list[str]:
        return [self.column, self.other]


class RowCountBetween(_Rule):
    type: Literal["row_count_between"]
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class ForeignKey(_ColumnRule):
    """Every value of ``column`` exists in ``reference_column`` of another product."""

    type: Literal["foreign_key"]
    references: str = Field(description="Product id, `<domain>/<product>`.")
    reference_column: str


class NotInFuture(_ColumnRule):
    type: Literal["not_in_future"]


class NotAfterDeath(_ColumnRule):
    """Event dates must not fall after the person's death (month precision)."""

    type: Literal["not_after_death"]
    person_column: str = "person_key"
    population: str = Field("population/persons", description="Product holding death dates.")
    death_column: str = "death_month"

    def columns_used(self) -> list[str]:
        return [self.column, self.person_column]


class Completeness(_ColumnRule):
    """At most ``max_null_share`` of the rows may be null."""

    type: Literal["completeness"]
    max_null_share: float = Field(ge=0.0, le=1.0)


class Freshness(_Rule):
    """The newest loaded extract is at most ``max_age_days`` old."""

    type: Literal["freshness"]
    max_age_days: int = Field(ge=0)


QualityRule = Annotated[
    NotNull
    | Unique
    | UniqueCombination
    | InSet
    | InCodeList
    | Regex
    | Between
    | GreaterOrEqual
    | RowCountBetween
    | ForeignKey
    | NotInFuture
    | NotAfterDeath
    | Completeness
    | Freshness,
    Field(discriminator="type"),
]
