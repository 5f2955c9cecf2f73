"""The file formats of source extracts: CSV, Parquet and JSON lines, one reader each.

Each reader reads a product's dated files into ``raw`` with the types from
its spec and files every record it cannot type in ``quarantine`` with a
reason; ``count`` counts records without parsing, as the reconciliation
baseline. Importing this module registers the readers under their format
names (see :mod:`regionlab.wap.sources`).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow.parquet as pq

from regionlab.spec import Product
from regionlab.spec.vocab import SourceFormat
from regionlab.sql import quote_ident, quote_literal
from regionlab.wap.sources import DatedFiles, Extract, register_reader


def _columns_sql(product: Product) -> str:
    return "{" + ", ".join(f"'{c.name}': '{c.type.duckdb}'" for c in product.columns) + "}"


def _record_id(product: Product) -> str:
    key = product.row_key[0]
    col = next((c for c in product.columns if c.name == key or c.output == key), None)
    return f"CAST({quote_ident(col.name)} AS VARCHAR)" if col else "NULL"


def _typed_select(product: Product, value: Callable[[str], str]) -> tuple[str, str]:
    """Casts of every column to its spec type, and a predicate for rows where one fails;
    ``value(name)`` is the SQL of a column's raw value."""
    casts = ", ".join(
        f"TRY_CAST({value(c.name)} AS {c.type.duckdb}) AS {quote_ident(c.name)}"
        for c in product.columns
    )
    failed = " OR ".join(
        f"({value(c.name)} IS NOT NULL AND TRY_CAST({value(c.name)} AS {c.type.duckdb}) IS NULL)"
        for c in product.columns
    )
    return casts, failed


def count_lines(extract: Extract) -> int:
    """Lines in a file (a last line without newline counts), read in 4 MB blocks."""
    lines = 0
    last = b"\n"
    with extract.path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


class CsvFiles(DatedFiles):
    """CSV with a header line; DuckDB's rejects tables say which lines failed and why."""

    suffix = SourceFormat.csv.value

    def count(self, delivery: Extract) -> int:
        return count_lines(delivery) - 1

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None:
        paths = [str(f.path) for f in deliveries]
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


class ParquetFiles(DatedFiles):
    """Parquet: typed by the file; values that do not cast to the spec's type are quarantined."""

    suffix = SourceFormat.parquet.value

    def count(self, delivery: Extract) -> int:
        return pq.ParquetFile(delivery.path).metadata.num_rows

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None:
        casts, failed = _typed_select(product, quote_ident)
        listing = ", ".join(quote_literal(str(f.path)) for f in deliveries)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW src AS SELECT *, ({failed}) AS _bad "
            f"FROM read_parquet([{listing}], filename='_extract', union_by_name=true)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE raw AS SELECT {casts}, _extract FROM src WHERE NOT _bad"
        )
        con.execute(
            f"""INSERT INTO quarantine SELECT _extract, NULL, {_record_id(product)}, 'type_error',
            'value does not have the declared type', to_json(src)::VARCHAR FROM src WHERE _bad"""
        )


class JsonLinesFiles(DatedFiles):
    """One JSON object per line; a line that is not JSON is quarantined as malformed."""

    suffix = SourceFormat.jsonl.value

    def count(self, delivery: Extract) -> int:
        return count_lines(delivery)

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None:
        paths = [str(f.path) for f in deliveries]
        con.execute(
            """CREATE OR REPLACE TEMP TABLE lines AS
            SELECT filename AS _extract, row_number() OVER (PARTITION BY filename) AS _line, line
            FROM read_csv(?, header=false, auto_detect=false, columns={'line': 'VARCHAR'},
                          delim=E'\\x01', quote='', escape='', filename=true)""",
            [paths],
        )
        casts, failed = _typed_select(
            product, lambda name: f"json_extract_string(line, {quote_literal('$.' + name)})"
        )
        con.execute(
            "INSERT INTO quarantine SELECT _extract, _line, NULL, 'malformed_line', "
            "'not valid JSON', line FROM lines WHERE NOT coalesce(json_valid(line), false)"
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW src AS SELECT *, ({failed}) AS _bad FROM lines
            WHERE coalesce(json_valid(line), false)"""
        )
        con.execute(
            "INSERT INTO quarantine SELECT _extract, _line, NULL, 'type_error', "
            "'value does not have the declared type', line FROM src WHERE _bad"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE raw AS SELECT {casts}, _extract FROM src WHERE NOT _bad"
        )


register_reader(SourceFormat.csv, CsvFiles())
register_reader(SourceFormat.parquet, ParquetFiles())
register_reader(SourceFormat.jsonl, JsonLinesFiles())
