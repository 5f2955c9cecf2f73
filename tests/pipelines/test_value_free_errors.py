"""Issue 15 finding 1: no value from a source file reaches an error, the output or Dagster.

DuckDB quotes the values it cannot read in its error text. A reader that fails
that way (a real DuckDB error over real register lines) and a quality hook
that fails that way must both leave the engine as value-free errors without
a cause chain; run through Dagster, nothing of them is in its storage or on
the console.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from regionlab.errors import UserError
from regionlab.settings import Settings
from regionlab.spec import Product, load_domains
from regionlab.spec.vocab import SourceFormat
from regionlab.wap.engine import run_source_product
from regionlab.wap.formats import JsonLinesFiles
from regionlab.wap.sources import Extract, reader_for, register_reader
from tests.leakscan import Identifiers, register_identifiers, scan_text

REGISTRY = load_domains()
NOTES = REGISTRY.product("clinical_notes/notes")


def _poison(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """A DuckDB error whose text quotes ``text`` (as its CSV reader's "Original Line")."""
    con.execute("SELECT CAST(? AS INTEGER)", [text]).fetchall()


class PoisonedReader(JsonLinesFiles):
    """Reads the notes, then fails the way DuckDB fails on a bad line: quoting it."""

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None:
        first = deliveries[0].path.read_text(encoding="utf-8").splitlines()[0]
        _poison(con, f"Original Line: {first}")


@pytest.fixture
def poisoned_notes() -> Iterator[None]:
    real = reader_for(NOTES)
    register_reader(SourceFormat.jsonl, PoisonedReader())
    yield
    register_reader(SourceFormat.jsonl, real)


def _ids(platform: Settings) -> Identifiers:
    return register_identifiers(sorted((platform.sources_dir / "cpr").rglob("*.csv"))[0])


def _assert_value_free(exc: BaseException, ids: Identifiers) -> None:
    text = "".join(traceback.format_exception(exc))
    assert exc.__cause__ is None and exc.__context__ is None
    assert scan_text(text, ids).total() == 0, text
    assert "Original Line" not in text and "Could not convert" not in text


def test_a_reader_error_quoting_a_line_leaves_the_engine_without_it(
    platform: Settings, poisoned_notes: None
) -> None:
    with pytest.raises(UserError) as caught:
        run_source_product(NOTES, platform)
    _assert_value_free(caught.value, _ids(platform))
    assert "epj/notes/notes_" in str(caught.value)  # it names the deliveries


def test_an_error_after_ingest_is_retold_without_its_text(platform: Settings) -> None:
    def hook(con: duckdb.DuckDBPyConnection, staging: Path, product: Product, ref) -> list:
        line = next(platform.sources_dir.joinpath("epj", "notes").glob("*.jsonl")).read_text()
        _poison(con, json.loads(line.splitlines()[0])["text"])
        return []

    with pytest.raises(UserError) as caught:
        run_source_product(NOTES, platform, quality_hook=hook)
    _assert_value_free(caught.value, _ids(platform))
    assert "DuckDB ConversionException" in str(caught.value)


@pytest.mark.slow
def test_through_dagster_nothing_reaches_its_storage_or_the_console(
    platform: Settings, poisoned_notes: None, capfd: pytest.CaptureFixture[str]
) -> None:
    from cli.run_cmd import execute, outcome_line

    [run] = execute([NOTES.ref], quiet=True)
    assert run.status == "failed"
    line = outcome_line(run)
    assert "epj/notes/notes_" in line
    ids = _ids(platform)
    captured = capfd.readouterr()
    storage = "\n".join(
        p.read_bytes().decode("utf-8", "replace")
        for p in Path(os.environ["DAGSTER_HOME"]).rglob("*")
        if p.is_file()
    )
    assert "clinical_notes__notes" in storage  # the failure is stored ...
    for text in (line, captured.out, captured.err, storage):  # ... without a value
        assert scan_text(text, ids).total() == 0
        assert "Original Line" not in text and "Could not convert" not in text
