"""Tiny hand-made lakes with rows placed exactly where the tests need them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.settings import get_settings


def publish(sql_by_table: dict[str, str]) -> None:
    con = lake.connect()
    try:
        for qualified, sql in sql_by_table.items():
            domain, product = qualified.split(".")
            lake.publish(con, domain, product, sql)
    finally:
        con.close()


def count(table: str, where: str = "true") -> int:
    con = lake.connect(read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM lake.{table} WHERE {where}").fetchone()[0]
    finally:
        con.close()


def values(sql: str) -> list:
    con = lake.connect(read_only=True)
    try:
        return [r[0] for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def workspace(project: str, tables: dict[str, tuple[str, str]]) -> Path:
    """A workspace file in research.workspace's layout: table → (product ref, CREATE ... AS)."""
    folder = get_settings().var_dir / "research" / "workspaces" / project
    folder.mkdir(parents=True)
    path = folder / f"{project}.duckdb"
    con = duckdb.connect(str(path))
    for table, (_, sql) in tables.items():
        schema = table.split(".")[0]
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(f"CREATE TABLE {table} AS {sql}")
    con.close()
    manifest = {"products": [{"product": ref, "table": t} for t, (ref, _) in tables.items()]}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path
