"""Spec rules as DataHub's native assertion types, where one says the same thing.

DataHub renders and filters native assertions by kind (freshness, volume,
column); a ``CUSTOM`` assertion is only a description. A rule becomes native
only when DataHub's type states exactly what the rule checks, following the
mapping DataHub's own ODCS source uses:

============================  ===========================================================
rule                          DataHub assertion
============================  ===========================================================
``freshness``                 FRESHNESS: the dataset changes at least every N days
``row_count_between``         VOLUME: total row count between min and max
``not_null``                  FIELD values NOT_NULL (none, or at most the threshold share)
``completeness``              FIELD metric NULL_PERCENTAGE ≤ the allowed share
``unique`` (no threshold)     FIELD metric UNIQUE_PERCENTAGE = 100
``in_set``                    FIELD values IN the set
``regex``                     FIELD values REGEX_MATCH (anchored: the spec means a full match)
``between``                   FIELD values BETWEEN / ≥ / ≤ the bounds (numbers and dates)
============================  ===========================================================

Everything else (combinations, code lists, foreign keys, ordering of two columns,
not in the future, not after death, a uniqueness threshold, a threshold that is
not a whole percentage) stays ``CUSTOM``: no native type means the same.
The bounds and sets are the spec's, never values of the data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from datahub.metadata.schema_classes import (
    AssertionStdOperatorClass,
    AssertionStdParameterClass,
    AssertionStdParametersClass,
    AssertionStdParameterTypeClass,
    AssertionTypeClass,
    CalendarIntervalClass,
    FieldAssertionInfoClass,
    FieldAssertionTypeClass,
    FieldMetricAssertionClass,
    FieldMetricTypeClass,
    FieldValuesAssertionClass,
    FieldValuesFailThresholdClass,
    FieldValuesFailThresholdTypeClass,
    FixedIntervalScheduleClass,
    FreshnessAssertionInfoClass,
    FreshnessAssertionScheduleClass,
    FreshnessAssertionScheduleTypeClass,
    FreshnessAssertionTypeClass,
    RowCountTotalClass,
    SchemaFieldSpecClass,
    VolumeAssertionInfoClass,
    VolumeAssertionTypeClass,
)

from regionlab.spec import Product

#: AssertionInfo keyword arguments of a native assertion: its type and its type's record.
Native = dict[str, Any]


def _number(value: float | int) -> AssertionStdParameterClass:
    return AssertionStdParameterClass(value=str(value), type=AssertionStdParameterTypeClass.NUMBER)


def _bound(value: object) -> AssertionStdParameterClass:
    if isinstance(value, dt.date | dt.datetime):
        return AssertionStdParameterClass(
            value=value.isoformat(), type=AssertionStdParameterTypeClass.STRING
        )
    return _number(value)  # type: ignore[arg-type]


def _range(low: object, high: object) -> tuple[str, AssertionStdParametersClass] | None:
    if low is not None and high is not None:
        return AssertionStdOperatorClass.BETWEEN, AssertionStdParametersClass(
            minValue=_bound(low), maxValue=_bound(high)
        )
    if low is not None:
        return AssertionStdOperatorClass.GREATER_THAN_OR_EQUAL_TO, AssertionStdParametersClass(
            value=_bound(low)
        )
    if high is not None:
        return AssertionStdOperatorClass.LESS_THAN_OR_EQUAL_TO, AssertionStdParametersClass(
            value=_bound(high)
        )
    return None


def _percent(share: float) -> int | None:
    """A share as a whole percentage, or None when a whole number would change the rule."""
    percent = round(share * 100, 9)
    return int(percent) if percent == int(percent) else None


def _fail_threshold(threshold: float) -> FieldValuesFailThresholdClass | None:
    if not threshold:
        return FieldValuesFailThresholdClass(type=FieldValuesFailThresholdTypeClass.COUNT, value=0)
    percent = _percent(threshold)
    if percent is None:
        return None
    return FieldValuesFailThresholdClass(
        type=FieldValuesFailThresholdTypeClass.PERCENTAGE, value=percent
    )


def _spec(product: Product, column: str) -> SchemaFieldSpecClass:
    published = product.published(column)
    native = published.type.duckdb if published is not None else ""
    kind = published.type.value.upper() if published is not None else ""
    return SchemaFieldSpecClass(path=column, type=kind, nativeType=native)


def _values(
    product: Product,
    dataset: str,
    column: str,
    operator: str,
    threshold: float,
    parameters: AssertionStdParametersClass | None = None,
) -> Native | None:
    fail = _fail_threshold(threshold)
    if fail is None:
        return None
    return {
        "type": AssertionTypeClass.FIELD,
        "fieldAssertion": FieldAssertionInfoClass(
            type=FieldAssertionTypeClass.FIELD_VALUES,
            entity=dataset,
            fieldPath=column,
            fieldValuesAssertion=FieldValuesAssertionClass(
                field=_spec(product, column),
                operator=operator,
                parameters=parameters,
                failThreshold=fail,
                # NOT_NULL must see the null rows; every other rule judges values only.
                excludeNulls=operator != AssertionStdOperatorClass.NOT_NULL,
            ),
        ),
    }


def _metric(
    product: Product,
    dataset: str,
    column: str,
    metric: str,
    operator: str,
    parameters: AssertionStdParametersClass,
) -> Native:
    return {
        "type": AssertionTypeClass.FIELD,
        "fieldAssertion": FieldAssertionInfoClass(
            type=FieldAssertionTypeClass.FIELD_METRIC,
            entity=dataset,
            fieldPath=column,
            fieldMetricAssertion=FieldMetricAssertionClass(
                field=_spec(product, column),
                metric=metric,
                operator=operator,
                parameters=parameters,
            ),
        ),
    }


def _changes_every(dataset: str, unit: str, multiple: int) -> Native:
    """FRESHNESS: the dataset changes at least every ``multiple`` ``unit``s."""
    return {
        "type": AssertionTypeClass.FRESHNESS,
        "freshnessAssertion": FreshnessAssertionInfoClass(
            type=FreshnessAssertionTypeClass.DATASET_CHANGE,
            entity=dataset,
            schedule=FreshnessAssertionScheduleClass(
                type=FreshnessAssertionScheduleTypeClass.FIXED_INTERVAL,
                fixedInterval=FixedIntervalScheduleClass(unit=unit, multiple=multiple),
            ),
        ),
    }


def stream_freshness(product: Product, dataset: str) -> Native:
    """A streaming product's freshness objective as a FRESHNESS assertion: the dataset
    changes at least every objective (in seconds; a micro-batch commits within it)."""
    assert product.stream is not None
    seconds = max(1, math.ceil(product.stream.freshness.max_lag_seconds))
    return _changes_every(dataset, CalendarIntervalClass.SECOND, seconds)


def native_assertion(rule: Any, product: Product, dataset: str) -> Native | None:
    """The native assertion of ``rule`` as AssertionInfo arguments, or None (stays CUSTOM)."""
    kind = rule.type
    threshold = float(getattr(rule, "threshold", 0.0) or 0.0)
    column = getattr(rule, "column", None)
    if kind == "freshness":
        return _changes_every(dataset, CalendarIntervalClass.DAY, rule.max_age_days)
    if kind == "row_count_between":
        bounds = _range(rule.min, rule.max)
        if bounds is None:
            return None
        operator, parameters = bounds
        return {
            "type": AssertionTypeClass.VOLUME,
            "volumeAssertion": VolumeAssertionInfoClass(
                type=VolumeAssertionTypeClass.ROW_COUNT_TOTAL,
                entity=dataset,
                rowCountTotal=RowCountTotalClass(operator=operator, parameters=parameters),
            ),
        }
    if column is None:
        return None
    if kind == "not_null":
        return _values(product, dataset, column, AssertionStdOperatorClass.NOT_NULL, threshold)
    if kind == "completeness":
        percent = _percent(max(rule.max_null_share, threshold))
        if percent is None:
            return None
        return _metric(
            product,
            dataset,
            column,
            FieldMetricTypeClass.NULL_PERCENTAGE,
            AssertionStdOperatorClass.LESS_THAN_OR_EQUAL_TO,
            AssertionStdParametersClass(value=_number(percent)),
        )
    if kind == "unique" and not threshold:
        return _metric(
            product,
            dataset,
            column,
            FieldMetricTypeClass.UNIQUE_PERCENTAGE,
            AssertionStdOperatorClass.EQUAL_TO,
            AssertionStdParametersClass(value=_number(100)),
        )
    if kind == "in_set":
        members = AssertionStdParameterClass(
            value=json.dumps(list(rule.values), ensure_ascii=False),
            type=AssertionStdParameterTypeClass.SET,
        )
        return _values(
            product,
            dataset,
            column,
            AssertionStdOperatorClass.IN,
            threshold,
            AssertionStdParametersClass(value=members),
        )
    if kind == "regex":
        pattern = AssertionStdParameterClass(
            value=f"^(?:{rule.pattern})$", type=AssertionStdParameterTypeClass.STRING
        )
        return _values(
            product,
            dataset,
            column,
            AssertionStdOperatorClass.REGEX_MATCH,
            threshold,
            AssertionStdParametersClass(value=pattern),
        )
    if kind == "between":
        bounds = _range(rule.min, rule.max)
        if bounds is None:
            return None
        operator, parameters = bounds
        return _values(product, dataset, column, operator, threshold, parameters)
    return None
