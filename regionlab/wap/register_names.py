"""The person register as the scrubber and the audit need it: names, and each person's identity.

Both come from the newest raw register extract inside the source stage and
never leave it: the names become regex rules, the identities (name, address,
postcode per person) a temp table of the run's connection keyed by person key
— nothing is written to the staging file or the lake; only scrubbed text and
counts go on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

from regionlab.lake import duckdb_connect
from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.privacy.names import KnownNames
from regionlab.privacy.scrub import IdentityTable
from regionlab.sql import quote_ident

REGISTER = ("cpr", "persons")
IDENTITIES = "__rl_identities"
_READ = "read_csv(?, header=true, all_varchar=true, ignore_errors=true)"


@dataclass(frozen=True)
class Register:
    """Register names by role, and the extract that holds each person's identity."""

    names: KnownNames
    extract: Path | None = None

    def install_identities(
        self, con: duckdb.DuckDBPyConnection, table: str, person_column: str
    ) -> IdentityTable | None:
        """Temp table ``__rl_identities`` (person_key → name, address, postcode) for ``table``.

        ``table`` has the raw CPR in ``person_column`` and its ``person_key``.
        """
        if self.extract is None:
            return None
        install_cpr_macros(con)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {IDENTITIES} AS
            WITH reg AS (
                SELECT cpr_normalise(cpr) AS n, first_name, last_name, address, postcode
                FROM {_READ}),
            keys AS (
                SELECT DISTINCT person_key, cpr_normalise({quote_ident(person_column)}) AS n
                FROM {table} WHERE person_key IS NOT NULL)
            SELECT keys.person_key, any_value(reg.first_name) AS first_name,
                   any_value(reg.last_name) AS last_name, any_value(reg.address) AS address,
                   any_value(reg.postcode) AS postcode
            FROM keys JOIN reg USING (n) GROUP BY keys.person_key""",
            [str(self.extract)],
        )
        return IdentityTable(f"temp.main.{IDENTITIES}")


def identities_installed(con: duckdb.DuckDBPyConnection) -> IdentityTable | None:
    """The identity table of this run's connection, if the scrubber made one."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [IDENTITIES]
    ).fetchone()
    return IdentityTable(f"temp.main.{IDENTITIES}") if found and found[0] else None


@lru_cache(maxsize=4)
def _names(path: Path, mtime: float) -> KnownNames:
    con = duckdb_connect()
    roles = []
    for column in ("first_name", "last_name"):
        rows = con.execute(
            f"SELECT DISTINCT {column} FROM {_READ} WHERE {column} IS NOT NULL", [str(path)]
        ).fetchall()
        roles.append([r[0] for r in rows])
    con.close()
    return KnownNames.of(*roles)


@lru_cache(maxsize=16)
def _usable(path: Path, mtime: float) -> bool:
    """Whether a register delivery passes its delivery-level check (a rejected one —
    another encoding, broken quoting, changed columns — would give too few names)."""
    from regionlab.spec import load_domains
    from regionlab.wap.delivery_checks import Outcome, check_delivery
    from regionlab.wap.sources import Extract

    product = load_domains().products.get("/".join(("population", "persons")))
    if product is None:
        return True
    verdict = check_delivery(product, Extract(dt.date.min, path, path.name))
    return verdict.outcome is Outcome.ok


def register_names(sources: Path) -> Register:
    """Names (by role) of the newest usable register extract, and that extract (empty if
    none yet)."""
    folder = sources.joinpath(*REGISTER)
    files = sorted(folder.glob("persons_*.csv")) if folder.is_dir() else []
    usable = [f for f in files if _usable(f, f.stat().st_mtime)]
    if not usable:
        return Register(KnownNames())
    newest = usable[-1]
    return Register(_names(newest, newest.stat().st_mtime), newest)
