"""The file formats of source extracts: CSV, Parquet and JSON lines, one reader each.

Each reader reads a product's dated files into ``raw`` with the types from
its spec and files every record it cannot type in ``quarantine`` with a
reason; ``count`` counts records without parsing, as the reconciliation
baseline. Importing this module registers the readers under their format
names (see :mod:`regionlab.wap.sources`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import duckdb

from regionlab.spec import Product
from regionlab.spec.vocab import SourceFormat
from regionlab.sql import quote_ident, quote_literal
from regionlab.wap.delivery_checks import MAX_RECORD_BYTES, count_csv_records
from regionlab.wap.sources import DatedFiles, Extract, register_reader

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow (≈0.5 s to import) is imported where a delivery is read or counted, not here:
# every `regionlab run` registers the readers, also one that finds nothing new.


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
    """CSV with a header line; DuckDB's rejects tables say which lines failed and why.

    A quoted field may hold a newline: records, not lines, are counted and read.
    """

    suffix = SourceFormat.csv.value

    def count(self, delivery: Extract) -> int:
        return count_csv_records(delivery.path)

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None:
        assert product.source is not None
        paths = [str(f.path) for f in deliveries]
        con.execute(
            f"""CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv(?, header=true,
            auto_detect=false, columns={_columns_sql(product)}, delim=',', quote='"', escape='"',
            dateformat='%Y-%m-%d', timestampformat='%Y-%m-%d %H:%M:%S', store_rejects=true,
            rejects_table='rejects_err', rejects_scan='rejects_scan', filename='_extract',
            max_line_size={MAX_RECORD_BYTES}, encoding=?)""",
            [paths, str(product.source.encoding)],
        )
        con.execute(
            """INSERT INTO quarantine
            SELECT s.file_path, e.line, NULL,
                   CASE WHEN bool_and(e.error_type = 'CAST') THEN 'type_error'
                        WHEN bool_or(e.error_type = 'LINE SIZE OVER MAXIMUM')
                        THEN 'line_too_long'
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
        import pyarrow.parquet as pq

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


def _lines_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [("_extract", pa.string()), ("_line", pa.int64()), ("line", pa.string()),
         ("problem", pa.string())]
    )  # fmt: skip


def _json_lines(deliveries: list[Extract], encoding: str) -> Iterator[pa.RecordBatch]:
    """(extract, line number, text, problem) of every line, in batches.

    Lines are split here rather than by a CSV reader with an unlikely delimiter: any
    byte may occur in a line, and each line keeps its own number. A line longer than
    ``MAX_RECORD_BYTES`` or one that does not decode keeps its number and a problem,
    and no text.
    """
    import pyarrow as pa

    schema = _lines_schema()
    for delivery in deliveries:
        cols: tuple[list[object], ...] = ([], [], [], [])
        with delivery.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                text: str | None = None
                problem = None
                if len(raw) > MAX_RECORD_BYTES:
                    problem = f"line of {len(raw):,} bytes, over the {MAX_RECORD_BYTES:,} limit"
                else:
                    try:
                        text = raw.decode(encoding).rstrip("\r\n")
                    except UnicodeDecodeError:
                        problem = f"not valid {encoding}"
                for col, value in zip(cols, (str(delivery.path), number, text, problem),
                                      strict=True):  # fmt: skip
                    col.append(value)
                if len(cols[0]) >= 50_000:
                    yield pa.RecordBatch.from_arrays([pa.array(c) for c in cols], schema=schema)
                    cols = ([], [], [], [])
        if cols[0]:
            yield pa.RecordBatch.from_arrays([pa.array(c) for c in cols], schema=schema)


class JsonLinesFiles(DatedFiles):
    """One JSON object per line; a line that is not JSON is quarantined as malformed."""

    suffix = SourceFormat.jsonl.value

    def count(self, delivery: Extract) -> int:
        return count_lines(delivery)

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None:
        assert product.source is not None
        import pyarrow as pa

        table = pa.Table.from_batches(
            list(_json_lines(deliveries, str(product.source.encoding))), schema=_lines_schema()
        )
        con.register("_json_lines_in", table)
        con.execute("CREATE OR REPLACE TEMP TABLE lines AS SELECT * FROM _json_lines_in")
        con.unregister("_json_lines_in")
        con.execute(
            "INSERT INTO quarantine SELECT _extract, _line, NULL, CASE WHEN problem LIKE "
            "'line of %' THEN 'line_too_long' ELSE 'malformed_line' END, problem, NULL "
            "FROM lines WHERE problem IS NOT NULL"
        )
        casts, failed = _typed_select(
            product, lambda name: f"json_extract_string(line, {quote_literal('$.' + name)})"
        )
        con.execute(
            "INSERT INTO quarantine SELECT _extract, _line, NULL, 'malformed_line', "
            "'not valid JSON', line FROM lines "
            "WHERE problem IS NULL AND NOT coalesce(json_valid(line), false)"
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW src AS SELECT *, ({failed}) AS _bad FROM lines
            WHERE problem IS NULL AND coalesce(json_valid(line), false)"""
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
