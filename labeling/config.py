"""Label configs for projects, and annotations checked against them.

Label Studio stores whatever an API client sends: a label that is not in the
config, offsets past the end of the text, a span whose text does not match
its offsets. Pull therefore re-validates every annotation against the
project's config (parsed by :mod:`regionlab.spec.labeling`, the same reading
``regionlab check`` uses) and rejects the whole annotation on any problem, so
the labelled product only holds annotations that mean what they say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from regionlab.spec.labeling import (
    ConfigSchema,
    LabelConfigError,
    LabelingTask,
    parse_config,
)

__all__ = [
    "ConfigSchema",
    "LabelConfigError",
    "Span",
    "Choice",
    "ParsedAnnotation",
    "label_config",
    "parse_config",
    "parse_result",
]


def label_config(task: LabelingTask) -> str:
    """The XML a project of this task gets (already validated by ``regionlab check``)."""
    return task.config_xml()


@dataclass(frozen=True)
class Span:
    control: str
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Choice:
    control: str
    label: str


@dataclass(frozen=True)
class ParsedAnnotation:
    spans: list[Span]
    choices: list[Choice]
    problems: list[str]

    @property
    def valid(self) -> bool:
        return not self.problems


def _span_problems(value: dict[str, Any], text: str, allowed: frozenset[str]) -> list[str]:
    out = []
    labels = value.get("labels") or []
    if not labels:
        out.append("a span has no label")
    for label in labels:
        if label not in allowed:
            out.append(f"label '{label}' is not in the label config ({', '.join(sorted(allowed))})")
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
        return out + ["a span has no integer start/end offsets"]
    if not 0 <= start < end <= len(text):
        return out + [f"span offsets {start}-{end} are outside the text (length {len(text)})"]
    quoted = value.get("text")
    if quoted is not None and quoted != text[start:end]:
        out.append(f"span text at {start}-{end} does not match the task text at those offsets")
    return out


def parse_result(
    result: Iterable[dict[str, Any]], text: str, schema: ConfigSchema
) -> ParsedAnnotation:
    """Spans and choices of one annotation's ``result``, with every problem found.

    Problem messages name labels and offsets but never quote the text.
    """
    spans: list[Span] = []
    choices: list[Choice] = []
    problems: list[str] = []
    per_control: dict[str, int] = {}
    for item in result:
        control = item.get("from_name")
        value = item.get("value") or {}
        kind = item.get("type")
        if item.get("to_name") not in (None, schema.text_name):
            problems.append(f"result points at '{item.get('to_name')}', not '{schema.text_name}'")
            continue
        if control in schema.labels and kind in (None, "labels"):
            found = _span_problems(value, text, schema.labels[control])
            problems += found
            if not found:
                spans += [
                    Span(control, label, value["start"], value["end"]) for label in value["labels"]
                ]
        elif control in schema.choices and kind in (None, "choices"):
            picked = value.get("choices") or []
            bad = [c for c in picked if c not in schema.choices[control]]
            problems += [
                f"choice '{c}' is not in the label config "
                f"({', '.join(sorted(schema.choices[control]))})"
                for c in bad
            ]
            if not picked:
                problems.append(f"no choice made in '{control}'")
            per_control[control] = per_control.get(control, 0) + len(picked)
            choices += [Choice(control, c) for c in picked if c not in bad]
        else:
            problems.append(f"result of type '{kind}' from '{control}' is not in the label config")
    for control, n in per_control.items():
        if n > 1 and control not in schema.multiple:
            problems.append(f"{n} choices in single-choice '{control}'")
    return ParsedAnnotation(spans, choices, problems)
