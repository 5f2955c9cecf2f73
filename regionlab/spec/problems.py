"""Spec problems as stewards read them: `file: field.path: message (hint)`."""

from __future__ import annotations

import contextlib
import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class SpecProblem:
    file: Path
    field: str
    message: str
    hint: str = ""

    def render(self, relative_to: Path | None = None) -> str:
        path = self.file
        if relative_to is not None:
            with contextlib.suppress(ValueError):
                path = self.file.resolve().relative_to(relative_to.resolve())
        hint = f" ({self.hint})" if self.hint else ""
        field = self.field or "(file)"
        return f"{path}: {field}: {self.message}{hint}"


def field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """Render a pydantic location, naming list items by their `name`/`id` where they have one.

    `('columns', 3, 'pseudonymisation')` becomes `columns[cpr].pseudonymisation`, which
    a steward can find in the file; discriminator tags pydantic inserts are dropped.
    """
    parts: list[str] = []
    node = data
    skip_tag: str | None = None
    for item in loc:
        if skip_tag is not None and item == skip_tag:
            skip_tag = None
            continue
        skip_tag = None
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            label = _label(node)
            parts[-1:] = (
                [f"{parts[-1]}[{label if label is not None else item}]"] if parts else [str(item)]
            )
            if isinstance(node, dict) and isinstance(node.get("type"), str):
                skip_tag = node["type"]
            continue
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _label(node: Any) -> str | None:
    if isinstance(node, dict):
        for key in ("name", "id"):
            if isinstance(node.get(key), str):
                return node[key]
    return None


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold, through Optional, unions and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def _items(annotation: Any) -> Any:
    """The element (list) or value (dict) type of a container annotation, else None."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _items(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        inner = [_items(a) for a in typing.get_args(annotation) if a is not type(None)]
        return next((i for i in inner if i is not None), None)
    if origin in (list, tuple, set, frozenset):
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    return None


def models_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[type[BaseModel]]:
    """The models that can stand at pydantic location ``loc`` of ``model``, following list
    indexes, dict keys and the tag of a discriminated union."""
    current: list[Any] = [model]
    for item in loc:
        following: list[Any] = []
        for annotation in current:
            models = _models(annotation)
            by_field = [m.model_fields[item] for m in models if item in m.model_fields]
            if isinstance(item, str) and by_field:
                following += [f.annotation for f in by_field]
            elif isinstance(item, str) and len(models) > 1:  # a discriminator's tag
                following += [m for m in models if _tag_matches(m, item)]
            elif (inner := _items(annotation)) is not None:
                following.append(inner)
        current = following
    return [m for annotation in current for m in _models(annotation)]


def field_names_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> set[str]:
    """The field names (and aliases) allowed at ``loc``."""
    return {
        info.alias or name for m in models_at(model, loc) for name, info in m.model_fields.items()
    }


def _tag_matches(model: type[BaseModel], tag: str) -> bool:
    field = model.model_fields.get("type")
    return field is not None and tag in typing.get_args(field.annotation)


def did_you_mean(name: str, options: set[str] | list[str]) -> str:
    """``did you mean 'x'?`` for the closest option, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def _hint(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"add `{error['loc'][-1]}`; see domains/README.md"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        suggestion = did_you_mean(key, field_names_at(model, tuple(error["loc"][:-1])))
        if suggestion:
            return suggestion
        return "remove it or fix the spelling; the JSON Schema in domains/ lists the allowed fields"
    if kind == "string_pattern_mismatch":
        return "use lower_snake_case: a-z, 0-9 and _"
    if kind in ("enum", "literal_error", "union_tag_invalid"):
        ctx = error.get("ctx") or {}
        given = ctx.get("tag", error.get("input"))
        listed = str(ctx.get("expected_tags") or ctx.get("expected"))
        options = set(re.findall(r"'([^']*)'", listed))
        suggestion = did_you_mean(str(given), options) if isinstance(given, str) else ""
        return suggestion or "pick one of the listed values"
    if kind == "value_error" and "email" in error["msg"]:
        return "give a full e-mail address such as navn@rsyd.dk"
    return ""


def misspelled(error: dict[str, Any], model: type[BaseModel]) -> str | None:
    """The field an unknown key (``extra_forbidden``) most likely means, if one is close."""
    if error["type"] != "extra_forbidden":
        return None
    parent = tuple(error["loc"][:-1])
    close = difflib.get_close_matches(
        str(error["loc"][-1]), sorted(field_names_at(model, parent)), n=1
    )
    return close[0] if close else None


def from_validation_error(
    file: Path, exc: ValidationError, data: Any, model: type[BaseModel]
) -> list[SpecProblem]:
    """One problem per error; a misspelled key names the field it means, and the "field
    required" of that same field is left out (it is the same mistake)."""
    errors = exc.errors(include_url=False)
    meant = {
        (*error["loc"][:-1], name)
        for error in errors
        if (name := misspelled(error, model)) is not None
    }
    problems = []
    for error in errors:
        if error["type"] == "missing" and tuple(error["loc"]) in meant:
            continue
        message = error["msg"].removeprefix("Value error, ")
        problems.append(
            SpecProblem(file, field_path(error["loc"], data), message, _hint(error, model))
        )
    return problems
