"""Names known from the person register, for scrubbing free text and for the audit scan.

They are read from the newest raw register extract inside the source stage and
never leave it: only scrubbed text and counts do.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from regionlab.lake import duckdb_connect

REGISTER = ("cpr", "persons")


@lru_cache(maxsize=4)
def _names(path: Path, mtime: float) -> tuple[str, ...]:
    con = duckdb_connect()
    rows = con.execute(
        """SELECT DISTINCT name FROM (
             SELECT unnest([first_name, last_name]) AS name
             FROM read_csv(?, header=true, all_varchar=true, ignore_errors=true))
           WHERE name IS NOT NULL AND length(name) >= 2 ORDER BY name""",
        [str(path)],
    ).fetchall()
    con.close()
    return tuple(r[0] for r in rows)


def register_names(sources: Path) -> tuple[str, ...]:
    """Distinct first and last names of the newest register extract (empty if none yet)."""
    folder = sources.joinpath(*REGISTER)
    files = sorted(folder.glob("persons_*.csv")) if folder.is_dir() else []
    if not files:
        return ()
    newest = files[-1]
    return _names(newest, newest.stat().st_mtime)
