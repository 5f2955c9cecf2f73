"""One message → one row of source columns, or a value-free reason why not.

Each resource is validated with ``fhir.resources`` (the R4B models: FHIR 4.3,
which reads R4 Encounter and Observation resources as they are). A reason names
what failed — the message, the element paths and the kind of error — but never a
value from the message: pydantic's own messages quote the input, so only their
locations and error types are kept.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from regionlab.spec import Product
from regionlab.spec.stream import path_segments
from regionlab.spec.vocab import ColumnType

_ELEMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Parsed:
    """A message's row (source column → value) or its quarantine reason and detail."""

    row: dict[str, Any] | None
    reason: str | None = None
    detail: str | None = None


@cache
def model(resource_type: str) -> type[BaseModel]:
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)  # type: ignore[no-any-return]


def _locations(exc: ValidationError, limit: int = 5) -> str:
    """``code: missing; valueQuantity.value: decimal_parsing`` — paths and kinds only."""
    parts = []
    for error in exc.errors()[:limit]:
        loc = ".".join(str(p) if _ELEMENT.match(str(p)) else "?" for p in error["loc"]
                       if not isinstance(p, int))  # fmt: skip
        parts.append(f"{loc or '(resource)'}: {error['type']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def read_path(resource: Any, path: str) -> Any:
    """The value at ``path`` (see :func:`regionlab.spec.stream.path_segments`), or None."""
    value = resource
    for name, index in path_segments(path):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
        if index is not None:
            if not isinstance(value, list) or index >= len(value):
                return None
            value = value[index]
    return None if isinstance(value, (dict, list)) else value


def _timestamp(value: Any) -> str | None:
    """An ISO dateTime (any offset) as a UTC timestamp without zone; dates at midnight."""
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed.isoformat(sep=" ")


_CONVERT = {
    ColumnType.timestamp: _timestamp,
    ColumnType.date: lambda v: dt.date.fromisoformat(str(v)[:10]).isoformat(),
    ColumnType.double: float,
    ColumnType.integer: int,
    ColumnType.bigint: int,
    ColumnType.boolean: bool,
    ColumnType.varchar: str,
}


def parse(product: Product, body: bytes) -> Parsed:
    """Validate the message as a FHIR resource of the product's types and read its columns."""
    stream = product.stream
    assert stream is not None
    try:
        resource = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Parsed(None, "malformed_message", "not a JSON document")
    if not isinstance(resource, dict):
        return Parsed(None, "malformed_message", "not a JSON object")
    kind = resource.get("resourceType")
    allowed = [t.value for t in stream.resource_types]
    if kind not in allowed:
        return Parsed(None, "unexpected_resource_type", f"expected {', '.join(allowed)}")
    try:
        model(kind).model_validate(resource)
    except ValidationError as exc:
        return Parsed(None, "invalid_resource", f"{kind}: {_locations(exc)}")
    row: dict[str, Any] = {}
    for column in product.columns:
        value = read_path(resource, stream.mapping[column.name])
        if value is not None:
            try:
                value = _CONVERT[column.type](value)
            except (TypeError, ValueError):
                return Parsed(None, "invalid_value", f"{column.name}: not a {column.type.value}")
        row[column.name] = value
    return Parsed(row)
