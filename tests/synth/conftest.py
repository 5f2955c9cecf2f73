"""A small generated source tree shared by the synth tests (generated once per session)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from regionlab.synth import Manifest, generate

AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """3 000 persons, a high defect rate so every defect type shows up in every file."""
    out = tmp_path_factory.mktemp("sources")
    manifest = generate(out, persons=3000, seed=7, defect_rate=0.05, as_of=AS_OF, deliveries=3)
    return out, manifest


def read_lines(path: Path) -> list[str]:
    """The file's lines (1-based access via index + 1)."""
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def parse_csv_line(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)))


def labels(root: Path) -> pl.DataFrame:
    return pl.read_csv(root / "defects.csv", infer_schema=False)
