"""The cohort format reference (``docs/cohorts.md``), generated from the pydantic models.

Every field, type, default and description in the reference comes from the models in
:mod:`regionlab.research.cohort`, and the semantics from its docstrings, so the document
cannot drift from what the loader accepts: ``tests/research/test_cohort_doc.py`` fails when
the committed file differs from :func:`render`. Regenerate with::

    python -m regionlab.research.cohort_doc > docs/cohorts.md
"""

from __future__ import annotations

import datetime as dt
import inspect
import sys
import types
import typing
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from regionlab.research import cohort as c
from regionlab.research.cohort_sql import NEEDS

#: The models in the order the reference explains them.
_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("The cohort", c.Cohort),
    ("Age", c.AgeRange),
    ("Time windows", c.Window),
    ("Diagnosis", c.DiagnosisCriterion),
    ("Procedure", c.ProcedureCriterion),
    ("Laboratory result", c.LabCriterion),
    ("Medication", c.MedicationCriterion),
    ("Any of", c.AnyOfCriterion),
)
_NAMES = {
    c.Window: "window",
    c.AgeRange: "age range",
    dt.date: "date (YYYY-MM-DD)",
    str: "text",
    int: "integer",
    float: "number",
    bool: "true/false",
}


def _type(annotation: Any) -> str:
    """A reader's name for a field's type."""
    if annotation in _NAMES:
        return _NAMES[annotation]
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _type(args[0])
    if origin is Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin in (types.UnionType, typing.Union):
        members = [a for a in args if a is not type(None)]
        kinds = [
            m
            for m in members
            if inspect.isclass(m) and issubclass(m, BaseModel) and "kind" in m.model_fields
        ]
        if kinds and len(kinds) == len(members):
            tags = ", ".join(f"`{m.model_fields['kind'].default}`" for m in kinds)
            return f"criterion ({tags})"
        return " or ".join(_type(m) for m in members)
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "empty" if value in ([], {}) else f"`{value}`"
    if field.default is None:
        return "none"
    if field.default == "":
        return "empty"
    if field.default is PydanticUndefined:
        return "required"
    if isinstance(field.default, bool):
        return f"`{str(field.default).lower()}`"
    return f"`{field.default}`"


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def _table(model: type[BaseModel]) -> list[str]:
    lines = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key == "kind":
            continue
        kind = "offset" if model is c.Window else _type(field.annotation)
        meaning = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{key}` | {kind} | {_default(field)} | {meaning} |")
    return lines


def _reads(model: type[BaseModel]) -> list[str]:
    """Which published product and columns a criterion kind reads."""
    kind = model.model_fields.get("kind")
    if kind is None or kind.default not in NEEDS:
        return []
    ref, columns = NEEDS[kind.default]
    listed = ", ".join(f"`{col}`" for col in columns if col != "person_key")
    return [f"Reads `{ref}` ({listed}).", ""]


def _semantics() -> str:
    """The "Semantics" section of the cohort module's docstring, as Markdown."""
    doc = inspect.cleandoc(c.__doc__ or "")
    text = doc.split("Semantics, so that nobody has to read the SQL:", 1)[1].strip()
    return text.replace("``", "`")


def render() -> str:
    """The whole reference, as committed in ``docs/cohorts.md``."""
    out = [
        "# Cohort format reference",
        "",
        "<!-- Generated from the models in regionlab/research/cohort.py by",
        "     `python -m regionlab.research.cohort_doc > docs/cohorts.md`;",
        "     tests/research/test_cohort_doc.py checks it. -->",
        "",
        "A cohort says who a feasibility count, a permit or a workspace is about. Write it as",
        "YAML under `cohorts/` (see `cohorts/t2d_vejle.yaml`) or build it in Python with",
        "`Cohort.builder(...)`; both give the same validated model. `regionlab feasibility",
        "cohorts/<name>.yaml` checks a file and answers with suppressed counts.",
        'A field typed "list of …" also takes a single value (`codes: DE11`).',
        "",
        "## Semantics",
        "",
        _semantics(),
        "",
        f"Published age bands: {', '.join(f'`{b}`' for b in c.AGE_BANDS)}.",
        "",
    ]
    for title, model in _SECTIONS:
        kind = model.model_fields.get("kind")
        heading = f"## {title}" + (f" (`kind: {kind.default}`)" if kind is not None else "")
        doc = _doc(model).replace("``", "`")
        out += [heading, "", doc, "", *_reads(model), *_table(model), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
