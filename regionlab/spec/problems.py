"""Spec problems as stewards read them: `file: field.path: message (hint)`."""

from __future__ import annotations

import contextlib
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


def _hint(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"add `{error['loc'][-1]}`; see domains/README.md"
    if kind == "extra_forbidden":
        return "remove it or fix the spelling; the JSON Schema in domains/ lists the allowed fields"
    if kind == "string_pattern_mismatch":
        return "use lower_snake_case: a-z, 0-9 and _"
    if kind in ("enum", "literal_error", "union_tag_invalid"):
        return "pick one of the listed values"
    if kind == "value_error" and "email" in error["msg"]:
        return "give a full e-mail address such as navn@rsyd.dk"
    return ""


def from_validation_error(
    file: Path, exc: ValidationError, data: Any, model: type[BaseModel]
) -> list[SpecProblem]:
    problems = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        problems.append(
            SpecProblem(file, field_path(error["loc"], data), message, _hint(error, model))
        )
    return problems
