"""Read a result table whatever Excel or R wrote: any delimiter, any common encoding.

A researcher in Denmark exports from Excel with ``;`` as delimiter, ``,`` as
decimal mark and Windows-1252 text; R writes UTF-8 with ``,``; some tools
write UTF-16 with a BOM. Reading such a file with the wrong delimiter gives one
column the rules cannot check, so the checks would pass it: the reader sniffs
the encoding (BOM, then strict UTF-8, then Windows-1252) and the delimiter
(:class:`csv.Sniffer` over the first lines) and reads every cell as text, so a
CPR without dash keeps its leading zero and ``"3 "`` stays visible as a number
stored as text.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from regionlab.errors import UserError

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
_DELIMITERS = ",;\t|"
_SAMPLE = 64 * 1024


@dataclass(frozen=True)
class ReadTable:
    """A table as read, with how it was read (for the report and the manifest)."""

    df: pl.DataFrame
    encoding: str
    delimiter: str
    """The delimiter sniffed; empty for Parquet."""


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was written in (BOM, strict UTF-8, else Windows-1252)."""
    for bom, name in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(name), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def sniff_delimiter(text: str, suffix: str) -> str:
    """The delimiter of the header and first lines; a tab for ``.tsv`` when unsure."""
    sample = "\n".join(text[:_SAMPLE].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        counts = {d: header.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            return best
        return "\t" if suffix == ".tsv" else ","


def _flat(df: pl.DataFrame, name: str) -> None:
    """Refuse list, struct and array columns: a result table has one value per cell, and
    the rules (which read every cell as text or a number) cannot check nested ones."""
    nested = [col for col, dtype in df.schema.items() if dtype.is_nested()]
    if nested:
        raise UserError(
            f"{name}: column(s) {', '.join(repr(c) for c in nested)} hold lists or structs; "
            "a result table has one number or label per cell: unnest or aggregate them "
            "and export the table again."
        )


def read_bytes(data: bytes, name: str) -> ReadTable:
    """Read ``data`` (the content of a file called ``name``) as a table of text cells."""
    suffix = Path(name).suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES:
            text, encoding = decode(data)
            delimiter = sniff_delimiter(text, suffix)
            df = pl.read_csv(
                io.BytesIO(text.encode("utf-8")),
                separator=delimiter,
                infer_schema=False,
                truncate_ragged_lines=False,
            )
            return ReadTable(df, encoding, delimiter)
        if suffix in PARQUET_SUFFIXES:
            df = pl.read_parquet(io.BytesIO(data))
            _flat(df, name)
            return ReadTable(df, "parquet", "")
    except (pl.exceptions.PolarsError, OSError, UnicodeError) as exc:
        raise UserError(
            f"{name}: could not read it as {suffix[1:]} ({type(exc).__name__}); "
            "export the result again as CSV (one header row) or Parquet."
        ) from None
    raise UserError(
        f"{name}: unsupported file type {suffix or '(none)'}; export results as .csv or .parquet."
    )


def read_path(path: Path) -> ReadTable:
    """Read a result file from disk (the local pre-check)."""
    if not path.is_file():
        raise UserError(f"{path}: no such file; give the path of a CSV or Parquet result table.")
    return read_bytes(path.read_bytes(), path.name)


__all__ = ["ReadTable", "decode", "read_bytes", "read_path", "sniff_delimiter"]
