"""Cross-field checks of a streaming product: what the stream section's schema cannot see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cache

from regionlab.spec.models import Product
from regionlab.spec.rule_kinds import is_cross_rule
from regionlab.spec.stream import FhirResourceType, path_segments
from regionlab.spec.vocab import ColumnType, Pseudonymisation, Severity

Finding = tuple[str, str, str]


@cache
def _element_names(resource: FhirResourceType) -> frozenset[str]:
    """Top-level element names of an R4 resource (as in JSON), from ``fhir.resources``."""
    import importlib

    module = importlib.import_module(f"fhir.resources.R4B.{resource.value.lower()}")
    model = getattr(module, resource.value)
    names = {f.alias or name for name, f in model.model_fields.items()}
    return frozenset(names | {"resourceType"})


def stream_checks(product: Product) -> Iterator[Finding]:
    stream = product.stream
    assert stream is not None
    columns = {c.name: c for c in product.columns}
    for column in stream.mapping:
        if column not in columns:
            yield f"stream.mapping.{column}", f"no column '{column}'", "map declared columns only"
    for name in columns:
        if name not in stream.mapping:
            yield (
                f"columns[{name}]",
                "not read from the events",
                f"add `{name}: <path>` under stream.mapping",
            )
    known = frozenset().union(*(_element_names(t) for t in stream.resource_types))
    for column, path in stream.mapping.items():
        first = path_segments(path)[0][0]
        if first not in known:
            types = ", ".join(t.value for t in stream.resource_types)
            yield (
                f"stream.mapping.{column}",
                f"'{first}' is not an element of {types}",
                "start the path with an element of the resource, e.g. subject or code",
            )
    person = columns.get(stream.person_column)
    if person is None:
        yield "stream.person_column", f"no column '{stream.person_column}'", ""
    elif person.pseudonymisation is not Pseudonymisation.person_key:
        yield (
            f"columns[{person.name}].pseudonymisation",
            "the CPR column must become the person key",
            "set pseudonymisation: person_key",
        )
    event_id = columns.get(stream.event_id_column)
    if event_id is None:
        yield "stream.event_id_column", f"no column '{stream.event_id_column}'", ""
    elif (event_id.output or event_id.name) not in product.row_key:
        yield (
            "stream.event_id_column",
            "the event id must be the row key",
            f"set row_key: [{event_id.output or event_id.name}]",
        )
    when = columns.get(stream.event_time_column)
    if when is None:
        yield "stream.event_time_column", f"no column '{stream.event_time_column}'", ""
    elif (when.type, when.pseudonymisation) != (ColumnType.timestamp, Pseudonymisation.keep):
        yield (
            "stream.event_time_column",
            f"'{when.name}' must be a timestamp published as is",
            "freshness is measured from it: type timestamp, pseudonymisation keep",
        )
    for i, rule in enumerate(product.quality):
        if rule.row_predicate(product, dt.date(2000, 1, 1)) is not None:
            continue
        if rule.reference() is not None and is_cross_rule(rule):
            # A rule over another product (foreign key, date of death) is judged on a
            # schedule over the published rows: it reports, it cannot stop published events.
            if rule.severity is not Severity.warning:
                yield (
                    f"quality[{i}].severity",
                    f"'{rule.id}' ({rule.type}) is checked on a schedule over published events "
                    "and cannot block them",
                    "set severity: warning",
                )
            continue
        yield (
            f"quality[{i}]",
            f"'{rule.id}' ({rule.type}) is not judged per event",
            "a streaming product's rules apply to each event: use not_null, in_set, "
            "in_code_list, regex, between, greater_or_equal or not_in_future (or, "
            "checked on a schedule, foreign_key or not_after_death)",
        )
