"""Read a product's extracts into the staging database with the types from its spec.

Nothing is dropped silently: every record the reader sees either lands in
``raw`` or in ``quarantine`` with a reason, and :func:`ingest` checks that the
two add up to the records counted independently in the files.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import duckdb
import pyarrow.parquet as pq

from pipelines.extracts import Extract
from regionlab.errors import UserError
from regionlab.spec import Product
from regionlab.spec.vocab import SourceFormat

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    extract VARCHAR, line BIGINT, record_id VARCHAR, reason VARCHAR, detail VARCHAR, raw VARCHAR
)"""

_CSV_REASON = {"CAST": "type_error"}  # every other CSV error is a malformed line


@dataclass
class IngestStats:
    rows_read: int = 0
    rows_staged: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)


def _columns_sql(product: Product) -> str:
    return "{" + ", ".join(f"'{c.name}': '{c.type.duckdb}'" for c in product.columns) + "}"


def count_records(extract: Extract, fmt: SourceFormat) -> int:
    """Records in a file, counted without parsing it, as the reconciliation baseline."""
    if fmt is SourceFormat.parquet:
        return pq.ParquetFile(extract.path).metadata.num_rows
    lines = 0
    last = b"\n"
    with extract.path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"
    return lines - 1 if fmt is SourceFormat.csv else lines


def _record_id(product: Product) -> str:
    key = product.row_key[0]
    col = next((c for c in product.columns if c.name == key or c.output == key), None)
    return f'CAST("{col.name}" AS VARCHAR)' if col else "NULL"


def _ingest_csv(con: duckdb.DuckDBPyConnection, product: Product, files: list[Extract]) -> None:
    paths = [str(f.path) for f in files]
    con.execute(
        f"""CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv(?, header=true,
        auto_detect=false, columns={_columns_sql(product)}, delim=',', quote='"', escape='"',
        dateformat='%Y-%m-%d', timestampformat='%Y-%m-%d %H:%M:%S', store_rejects=true,
        rejects_table='rejects_err', rejects_scan='rejects_scan', filename='_extract')""",
        [paths],
    )
    con.execute(
        """INSERT INTO quarantine
        SELECT s.file_path, e.line, NULL,
               CASE WHEN bool_and(e.error_type = 'CAST') THEN 'type_error'
                    ELSE 'malformed_line' END,
               string_agg(DISTINCT CAST(e.error_type AS VARCHAR)
                          || coalesce(':' || e.column_name, ''), ', '),
               any_value(e.csv_line)
        FROM rejects_err e JOIN rejects_scan s USING (scan_id, file_id)
        GROUP BY s.file_path, e.line"""
    )


def _typed_select(product: Product, source: str) -> tuple[str, str]:
    casts = ", ".join(
        f'TRY_CAST({source.format(name=c.name)} AS {c.type.duckdb}) AS "{c.name}"'
        for c in product.columns
    )
    failed = " OR ".join(
        f"({source.format(name=c.name)} IS NOT NULL AND TRY_CAST({source.format(name=c.name)} "
        f"AS {c.type.duckdb}) IS NULL)"
        for c in product.columns
    )
    return casts, failed


def _ingest_parquet(con: duckdb.DuckDBPyConnection, product: Product, files: list[Extract]) -> None:
    paths = [str(f.path) for f in files]
    casts, failed = _typed_select(product, '"{name}"')
    listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW src AS SELECT *, ({failed}) AS _bad "
        f"FROM read_parquet([{listing}], filename='_extract', union_by_name=true)"
    )
    con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT {casts}, _extract FROM src WHERE NOT _bad")
    con.execute(
        f"""INSERT INTO quarantine SELECT _extract, NULL, {_record_id(product)}, 'type_error',
        'value does not have the declared type', to_json(src)::VARCHAR FROM src WHERE _bad"""
    )


def _ingest_jsonl(con: duckdb.DuckDBPyConnection, product: Product, files: list[Extract]) -> None:
    paths = [str(f.path) for f in files]
    con.execute(
        """CREATE OR REPLACE TEMP TABLE lines AS
        SELECT filename AS _extract, row_number() OVER (PARTITION BY filename) AS _line, line
        FROM read_csv(?, header=false, auto_detect=false, columns={'line': 'VARCHAR'},
                      delim=E'\\x01', quote='', escape='', filename=true)""",
        [paths],
    )
    casts, failed = _typed_select(product, "json_extract_string(line, '$.{name}')")
    con.execute(
        "INSERT INTO quarantine SELECT _extract, _line, NULL, 'malformed_line', 'not valid JSON', "
        "line FROM lines WHERE NOT coalesce(json_valid(line), false)"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW src AS SELECT *, ({failed}) AS _bad FROM lines
        WHERE coalesce(json_valid(line), false)"""
    )
    con.execute(
        "INSERT INTO quarantine SELECT _extract, _line, NULL, 'type_error', "
        "'value does not have the declared type', line FROM src WHERE _bad"
    )
    con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT {casts}, _extract FROM src WHERE NOT _bad")


_READERS = {
    SourceFormat.csv: _ingest_csv,
    SourceFormat.parquet: _ingest_parquet,
    SourceFormat.jsonl: _ingest_jsonl,
}


def ingest(con: duckdb.DuckDBPyConnection, product: Product, files: list[Extract]) -> IngestStats:
    """Load ``files`` into ``raw``; malformed and mistyped records go to ``quarantine``."""
    assert product.source is not None
    fmt = product.source.format
    con.execute(QUARANTINE_DDL)
    try:
        _READERS[fmt](con, product, files)
    except duckdb.Error as exc:
        raise UserError(
            f"cannot read extracts of {product.ref} ({', '.join(f.name for f in files)}): "
            f"{str(exc).splitlines()[0]}; check that the files match source.format={fmt.value}"
        ) from exc
    stats = IngestStats(rows_read=sum(count_records(f, fmt) for f in files))
    stats.rows_staged = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    stats.quarantined.update(
        dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall())
    )
    if stats.rows_staged + stats.quarantined.total() != stats.rows_read:
        raise RuntimeError(
            f"reconciliation failed for {product.ref}: read {stats.rows_read} records, staged "
            f"{stats.rows_staged}, quarantined {stats.quarantined.total()}"
        )
    return stats


def quarantine_json(con: duckdb.DuckDBPyConnection) -> str:
    """Counts by reason as JSON (for metadata): never the quarantined values."""
    rows = con.execute("SELECT reason, count(*) FROM quarantine GROUP BY ALL ORDER BY 1").fetchall()
    return json.dumps(dict(rows))
