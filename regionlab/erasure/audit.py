"""The independent audit of every erasure so far: a full decoding scan of the lake.

An erasure's own verification decodes only the data files whose ``person_key``
statistics may hold its persons (:mod:`regionlab.erasure.verify` argues why
that is a proof). This audit does not rely on that argument: it decodes every
Parquet file under the lake's data folder, and every table the catalogue
keeps rows in (inlined data, column statistics), and looks for any person on
the suppression list. The list holds digests, not keys, so a row matches when

* its ``person_key`` digests to a listed digest, or
* a 64-hex token in any of its text digests to one (a person key in text), or
* a CPR-shaped token in its text, keyed with the pseudonymisation key,
  digests to one (a CPR number in text).

It reads and writes nothing but its own report; run it on a schedule
(``regionlab erase-audit``) and after changing the lake's layout. The report
says how long it took.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import duckdb
from pydantic import BaseModel, Field

from regionlab import lake
from regionlab.erasure.duckdb_files import text_sql
from regionlab.erasure.lake_delete import data_folder
from regionlab.erasure.resolve import key_digest_sql
from regionlab.erasure.verify import _parquet_columns, parquet_files
from regionlab.lake import inlining
from regionlab.lake.extensions import duckdb_connect
from regionlab.platform.tables import SUPPRESSION_LIST
from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.privacy.pseudonym import hmac_params, hmac_sql
from regionlab.sql import quote_ident, quote_literal

DIGESTS = "__rl_audit_digests"
_HEX_KEY = "[0-9a-f]{64}"


class AuditReport(BaseModel):
    """Rows of erased persons found per place (none when ``passed``) and the scan's cost."""

    passed: bool = False
    started_at: datetime
    seconds: float = 0.0
    persons_listed: int = 0
    data_files_scanned: int = 0
    catalog_tables_scanned: int = 0
    rows_found: dict[str, int] = Field(default_factory=dict)


def _matches(con: duckdb.DuckDBPyConnection, source: str, key: PseudonymKey, pk: bool) -> int:
    """Rows of ``source`` (``rid``, ``txt``, and ``person_key`` when ``pk``) of a listed person."""
    listed = f"IN (SELECT d FROM temp.main.{DIGESTS})"
    parts = [
        f"""SELECT rid FROM (SELECT rid, unnest(regexp_extract_all(txt, '{_HEX_KEY}')) AS tok
                             FROM src WHERE txt IS NOT NULL)
            WHERE {key_digest_sql("tok")} {listed}""",
        f"""SELECT toks.rid FROM toks JOIN (
                SELECT tok FROM (SELECT DISTINCT tok FROM toks)
                WHERE {key_digest_sql(hmac_sql("tok"))} {listed}
            ) AS hit USING (tok)""",
    ]
    if pk:
        parts.append(
            f"SELECT rid FROM src WHERE {key_digest_sql('CAST(person_key AS VARCHAR)')} {listed}"
        )
    row = con.execute(
        f"""WITH src AS ({source}),
                 toks AS (SELECT rid, unnest(cpr_candidates(txt)) AS tok
                          FROM src WHERE txt IS NOT NULL)
            SELECT count(DISTINCT rid) FROM ({" UNION ALL ".join(parts)})""",
        hmac_params(key),
    ).fetchone()
    return int(row[0]) if row else 0


def _listed(key: PseudonymKey) -> list[str]:
    con = lake.connect(read_only=True)
    try:
        if not SUPPRESSION_LIST.exists(con):
            return []
        rows = con.execute(
            f"SELECT DISTINCT key_digest FROM {SUPPRESSION_LIST.qualified} "
            f"WHERE key_id = {quote_literal(key.key_id)}"
        ).fetchall()
    finally:
        con.close()
    return sorted(str(r[0]) for r in rows)


def audit_erased(key: PseudonymKey | None = None) -> AuditReport:
    """Decode every data file and catalogue table; count rows of any erased person."""
    key = key or load_key()
    started = time.perf_counter()
    report = AuditReport(started_at=datetime.now(UTC))
    digests = _listed(key)
    report.persons_listed = len(digests)
    if digests:
        _scan(report, key, digests)
    report.seconds = round(time.perf_counter() - started, 2)
    report.passed = not report.rows_found
    return report


def _install(con: duckdb.DuckDBPyConnection, digests: list[str]) -> None:
    install_cpr_macros(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {DIGESTS} (d VARCHAR)")
    con.execute(f"INSERT INTO {DIGESTS} SELECT unnest(?::VARCHAR[])", [digests])


def _scan(report: AuditReport, key: PseudonymKey, digests: list[str]) -> None:
    data_dir = data_folder()
    con = duckdb_connect(config={"memory_limit": "3GB"})
    try:
        _install(con, digests)
        for path in parquet_files(data_dir):
            report.data_files_scanned += 1
            table = _parquet_columns(con, path)
            pk = "person_key" in table.columns
            txt = text_sql(table.text_columns(exclude=("person_key",)))
            selected = ", t.person_key" if pk else ""
            source = (
                f"SELECT t.file_row_number AS rid, {txt} AS txt{selected} "
                f"FROM read_parquet({quote_literal(str(path))}, file_row_number=true) t"
            )
            n = _matches(con, source, key, pk)
            if n and data_dir is not None:
                report.rows_found[str(path.relative_to(data_dir))] = n
    finally:
        con.close()
    con = lake.connect(read_only=True)
    try:
        _install(con, digests)
        md = quote_ident(inlining.metadata_db())
        names = [t for _, _, t in inlining.inlined_tables(con, live_only=False)]
        for name in [*names, "ducklake_table_column_stats", "ducklake_file_column_stats"]:
            report.catalog_tables_scanned += 1
            source = (
                f"SELECT row_number() OVER () AS rid, CAST(t AS VARCHAR) AS txt "
                f"FROM {md}.{quote_ident(name)} t"
            )
            n = _matches(con, source, key, False)
            if n:
                report.rows_found[f"catalogue:{name}"] = n
    finally:
        con.close()
