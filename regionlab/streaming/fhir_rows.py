"""One message → one row of source columns, or a value-free reason why not.

Each resource is validated with ``fhir.resources`` (the R4B models: FHIR 4.3,
which reads R4 Encounter and Observation resources as they are). A reason names
what failed — the message, the element paths and the kind of error — but never a
value from the message: pydantic's own messages quote the input, so only their
locations and error types are kept, and of a location only the parts that are
element names of the FHIR models (an extra-field error's key comes from the message).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
import typing
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


@cache
def _fields(cls: type[BaseModel]) -> dict[str, str]:
    """The model's field names and aliases (as pydantic puts them in a location) → field."""
    names = {}
    for name, info in cls.model_fields.items():
        names[name] = name
        if info.alias:
            names[info.alias] = name
    return names


def _element_model(annotation: Any) -> type[BaseModel] | None:
    """The FHIR model behind a field's annotation (``Optional[List[abc.QuantityType]]``)."""
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return annotation
        if annotation.__name__.endswith("Type") and annotation.__name__ != "NoneType":
            fhir = importlib.import_module("fhir.resources.R4B")
            try:
                found = fhir.get_fhir_model_class(annotation.__name__[: -len("Type")])
            except (KeyError, ValueError, LookupError, ImportError, AttributeError):
                return None
            return found if isinstance(found, type) and issubclass(found, BaseModel) else None
        return None
    for arg in typing.get_args(annotation):
        found = _element_model(arg)
        if found is not None:
            return found
    return None


@cache
def _child(cls: type[BaseModel], field: str) -> type[BaseModel] | None:
    return _element_model(cls.model_fields[field].annotation)


def _safe_loc(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """The location with only the model's real element names; anything else is ``?``.

    An extra-field error's location ends in a key taken from the message, which could
    be a name or a CPR number: a part is kept only if it is a field of the FHIR model
    class at that point of the path, found by walking the models from the resource.
    """
    current: type[BaseModel] | None = root
    parts = []
    for part in loc:
        if isinstance(part, int):
            continue
        field = _fields(current).get(str(part)) if current is not None else None
        if field is None or not _ELEMENT.match(str(part)):
            parts.append("?")
            current = None  # lost our place in the model: nothing after this is trusted
            continue
        parts.append(str(part))
        current = _child(current, field)  # type: ignore[arg-type]
    return ".".join(parts)


def _locations(exc: ValidationError, root: type[BaseModel], limit: int = 5) -> str:
    """``code: missing; valueQuantity.value: decimal_parsing`` — paths and kinds only."""
    parts = []
    for error in exc.errors()[:limit]:
        loc = _safe_loc(root, tuple(error["loc"]))
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
        return Parsed(None, "invalid_resource", f"{kind}: {_locations(exc, model(kind))}")
    row: dict[str, Any] = {}
    for column in product.columns:
        value = read_path(resource, stream.mapping[column.name])
        if value is not None:
            try:
                value = _CONVERT[column.type](value)
            except (TypeError, ValueError, OverflowError):  # e.g. year 1 at +01:00 in UTC
                return Parsed(None, "invalid_value", f"{column.name}: not a {column.type.value}")
        row[column.name] = value
    return Parsed(row)
