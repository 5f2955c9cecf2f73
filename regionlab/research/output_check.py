"""Output check for result tables leaving a research workspace.

A workspace holds row-level pseudonymised data; what leaves it must be
aggregate and free of identifiers. This is the local pre-check (``regionlab
output check``) and the first half of the airlock
(:mod:`regionlab.research.airlock`): it reads a CSV (any delimiter and
encoding) or Parquet file, tells what kind of table it is and applies the rule
set of :mod:`regionlab.research.airlock.rules`; the airlock adds differencing
against the project's earlier released outputs.

It is deliberately conservative (a false alarm costs a reviewer a minute, a
miss can identify a patient) and it never repeats an offending value: a
finding names the column, the first few row numbers and what to change, so the
report itself can be mailed or logged. The threshold may be raised, never set
below the service's floor (``min_cell``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from regionlab.errors import UserError
from regionlab.research.airlock.read import ReadTable, read_path
from regionlab.research.airlock.rules import ROW, Checker, Finding, TableClass, Zeros

DEFAULT_THRESHOLD = 5
Verdict = Literal["pass", "review", "fail"]


@dataclass(frozen=True)
class OutputCheckReport:
    """The verdict on one file; ``render()`` gives the text the CLI prints."""

    path: Path
    n_rows: int
    n_columns: int
    threshold: int
    table_class: TableClass = "unknown"
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    """Problems that must change (severity ``fail``)."""
    notes: tuple[Finding, ...] = field(default_factory=tuple)
    """What the rules could not settle: an output checker looks (severity ``review``)."""
    encoding: str = ""
    delimiter: str = ""

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def verdict(self) -> Verdict:
        if self.findings:
            return "fail"
        return "review" if self.notes else "pass"

    def render(self) -> str:
        head = (
            f"Output check of {self.path.name} ({self.table_class} table): "
            f"{self.n_rows} rows, {self.n_columns} columns"
        )
        if self.ok:
            lines = [
                f"{head}: OK - no small cells, identifiers or row-level data found.",
            ]
            if self.notes:
                lines.append(f"{len(self.notes)} point(s) for the output checker to review:")
                lines += [f"- {f.render()}" for f in self.notes]
            else:
                lines.append(
                    "Still check by eye that no total or other table reveals a hidden cell."
                )
            return "\n".join(lines)
        lines = [f"{head}: {len(self.findings)} finding(s); the file must not leave the workspace."]
        lines += [f"- {f.render()}" for f in self.findings + self.notes]
        lines.append(
            "Rows are numbered from 1, header not counted. Values are not shown on purpose."
        )
        return "\n".join(lines)


def check_threshold(threshold: int | None, floor: int) -> int:
    """The threshold to apply: the floor when none is asked, never below it."""
    if threshold is None:
        return floor
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise UserError(f"threshold must be a whole number of at least 1, got {threshold!r}.")
    if threshold < floor:
        raise UserError(
            f"threshold {threshold} is below the service's floor of {floor} (min_cell); "
            f"use --threshold {floor} or higher."
        )
    return threshold


def check_table(
    table: ReadTable,
    path: Path,
    *,
    threshold: int,
    known_names: Iterable[str] = (),
    zeros: Zeros = "review",
    extra: Iterable[Finding] = (),
) -> OutputCheckReport:
    """Run the rule set over a table already read (the airlock reads uploaded bytes)."""
    df: pl.DataFrame = table.df
    if ROW in df.columns:
        raise UserError(f"{path}: column name '{ROW}' is reserved; rename that column.")
    checker = Checker(
        df,
        threshold=threshold,
        known_names=list(known_names),
        zeros=zeros,
        decimal_comma=table.delimiter == ";",
    )
    found = checker.run() + list(extra)
    return OutputCheckReport(
        path=path,
        n_rows=df.height,
        n_columns=df.width,
        threshold=threshold,
        table_class=checker.table_class,
        findings=tuple(f for f in found if f.severity == "fail"),
        notes=tuple(f for f in found if f.severity == "review"),
        encoding=table.encoding,
        delimiter=table.delimiter,
    )


def check_output(
    path: Path,
    *,
    threshold: int | None = None,
    floor: int = DEFAULT_THRESHOLD,
    known_names: Iterable[str] = (),
    zeros: Zeros = "review",
) -> OutputCheckReport:
    """Check a CSV or Parquet result table before it leaves a workspace.

    ``threshold`` defaults to ``floor`` (the service's ``min_cell``) and may not
    be lower. ``known_names`` are person names from the register (first and
    last names); they are matched as whole words, case-insensitively, in text
    columns.
    """
    applied = check_threshold(threshold, floor)
    path = Path(path)
    return check_table(
        read_path(path), path, threshold=applied, known_names=known_names, zeros=zeros
    )


__all__ = [
    "DEFAULT_THRESHOLD",
    "Finding",
    "OutputCheckReport",
    "Verdict",
    "check_output",
    "check_table",
    "check_threshold",
]
