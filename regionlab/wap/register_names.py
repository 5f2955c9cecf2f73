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
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        person_column: str,
        mapping: str | None = None,
    ) -> IdentityTable | None:
        """Temp table ``__rl_identities`` (person_key → name, address, postcode) for ``table``.

        ``table`` has the raw CPR in ``person_column`` and its ``person_key`` — or,
        with ``mapping`` (a temp table of ``__rl_raw`` CPR → ``__rl_value`` key, see
        :func:`regionlab.privacy.pseudonym.person_key_mapping`), the keys come from
        that mapping and ``table`` is not read at all.
        """
        if self.extract is None:
            return None
        install_cpr_macros(con)
        keys = (
            f"SELECT DISTINCT __rl_value AS person_key, cpr_normalise(__rl_raw) AS n "
            f"FROM temp.main.{mapping}"
            if mapping is not None
            else f"SELECT DISTINCT person_key, cpr_normalise({quote_ident(person_column)}) AS n "
            f"FROM {table} WHERE person_key IS NOT NULL"
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {IDENTITIES} AS
            WITH reg AS (
                SELECT cpr_normalise(cpr) AS n, first_name, last_name, address, postcode
                FROM {_READ}),
            keys AS ({keys})
            SELECT keys.person_key, any_value(reg.first_name) AS first_name,
                   any_value(reg.last_name) AS last_name, any_value(reg.address) AS address,
                   any_value(reg.postcode) AS postcode
            FROM keys JOIN reg USING (n) GROUP BY keys.person_key""",
            [str(self.extract)],
        )
        return IdentityTable(f"temp.main.{IDENTITIES}")


def identities_by_cpr(
    con: duckdb.DuckDBPyConnection, mapping: str, person_column: str
) -> IdentityTable:
    """The installed identities keyed by the raw CPR as written, for scrubbing ``raw``.

    ``raw`` carries no person key (``build_staged`` joins it only into ``staged``), so
    the scrubber joins each row's identity on its CPR instead; the mapping is a
    function CPR → key, so every row gets the identity its key would have given.
    """
    name = f"{IDENTITIES}_by_cpr"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name} AS
        SELECT m.__rl_raw AS {quote_ident(person_column)}, i.* EXCLUDE (person_key)
        FROM temp.main.{mapping} AS m JOIN temp.main.{IDENTITIES} AS i
          ON i.person_key = m.__rl_value"""
    )
    return IdentityTable(f"temp.main.{name}", key=person_column)


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
