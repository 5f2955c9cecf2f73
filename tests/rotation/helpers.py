"""Readers of the lake and the source zone for the rotation tests (values stay in the test)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import cli
from regionlab import lake
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import person_key
from regionlab.settings import Settings
from regionlab.sql import quote_ident


def register_files(settings: Settings) -> list[Path]:
    return sorted((settings.sources_dir / "cpr" / "persons").glob("*.csv"))


def cprs_by_key(settings: Settings, key: PseudonymKey) -> dict[str, str]:
    out = {}
    for path in register_files(settings):
        frame = pl.read_csv(path, infer_schema_length=0, truncate_ragged_lines=True,
                            ignore_errors=True)  # fmt: skip
        for cpr in frame["cpr"].drop_nulls().to_list():
            with contextlib.suppress(ValueError):
                out[person_key(cpr, key)] = cpr
    return out


def lake_keys(ref: str, column: str = "person_key") -> set[str]:
    schema, table = ref.split("/")
    con = lake.connect(read_only=True)
    try:
        rows = con.execute(
            f"SELECT {quote_ident(column)} FROM lake.{quote_ident(schema)}.{quote_ident(table)}"
        ).fetchall()
        return {r[0] for r in rows if r[0] is not None}
    finally:
        con.close()


def table_counts() -> dict[str, int]:
    con = lake.connect(read_only=True)
    try:
        return {
            f"{d}/{t}": con.execute(
                f"SELECT count(*) FROM lake.{quote_ident(d)}.{quote_ident(t)}"
            ).fetchone()[0]
            for d, t in lake.list_tables(con)
        }
    finally:
        con.close()


def scalar(sql: str, params: list | None = None) -> object:
    con = lake.connect(read_only=True)
    try:
        return con.execute(sql, params or []).fetchone()[0]
    finally:
        con.close()


def snapshot() -> int:
    con = lake.connect(read_only=True)
    try:
        return lake.current_snapshot(con)
    finally:
        con.close()


@contextlib.contextmanager
def argv(*args: str) -> Iterator[None]:
    old = sys.argv
    sys.argv = ["regionlab", *args]
    try:
        yield
    finally:
        sys.argv = old


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the real ``regionlab`` entry point; returns (exit code, stdout + stderr)."""
    with argv(*args):
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def drop_register_lines(settings: Settings, cprs: set[str]) -> None:
    """Remove these persons' lines from every register delivery (as if the source lost them)."""
    for path in register_files(settings):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not any(c in line for c in cprs)]
        path.write_text("".join(kept), encoding="utf-8")
