"""Delivery-level validation: is this file a delivery of this product at all?

Before a single record is read, each delivery is checked as a whole: its
encoding (declared per source, default UTF-8), its header against the spec
(the columns, their order and the delimiter), its quoting, whether it is
empty. A file that fails is *one* problem with one reason — not thousands of
row rejects — and it is not loaded: the product's previous snapshot stays
current. An empty or header-only file is a valid "nothing new".

Messages name the file, the line, the expected and found columns and the fix;
never a value. A found header cell is named only when it looks like a column
name (a header-less file would otherwise print its first record); charset
detection (``charset-normalizer``) names the encoding the file most likely has.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from regionlab.spec import Product
from regionlab.spec.vocab import SourceFormat
from regionlab.wap.sources import Extract

#: A record longer than this is quarantined with its line number (DuckDB's default limit).
MAX_RECORD_BYTES = 2 * 1024 * 1024
#: Bytes handed to charset detection when a file does not decode.
_SAMPLE = 256 * 1024
_BLOCK = 1 << 22
_COLUMN_NAME = re.compile(r"^[a-z][a-z_]*[0-9]{0,2}$")
#: Detected encodings a spec may declare instead (the readers support these).
_DECLARABLE = {"latin-1": "latin-1", "iso8859-1": "latin-1", "cp1252": "latin-1",
               "windows-1252": "latin-1", "utf-8": "utf-8"}  # fmt: skip
_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


class Outcome(StrEnum):
    ok = "ok"  # load it
    empty = "empty"  # nothing new: no records (an empty or header-only file)
    rejected = "rejected"  # not loaded; the previous snapshot stays current


@dataclass(frozen=True)
class Verdict:
    """The outcome of one delivery's check; ``message`` is value-free and says what to do."""

    delivery: str
    outcome: Outcome
    reason: str = ""
    message: str = ""


def _shown(cell: str, position: int) -> str:
    """A found header cell, or its position only when it does not look like a column name."""
    cell = cell.strip()
    return cell if _COLUMN_NAME.match(cell) else f"<column {position}: not a column name>"


def _columns(cells: list[str]) -> str:
    return ", ".join(_shown(c, i + 1) for i, c in enumerate(cells)) or "(none)"


def _likely_encoding(path: Path) -> str | None:
    """The encoding ``charset-normalizer`` finds most likely for the file's first bytes.

    Single-byte Western encodings often tie (cp1250 and cp1252 decode Danish text
    equally cleanly); among the equally clean candidates one the spec may declare wins.
    """
    from charset_normalizer import from_bytes

    with path.open("rb") as handle:
        matches = list(from_bytes(handle.read(_SAMPLE)))
    if not matches:
        return None
    clean = [m for m in matches if m.percent_chaos <= matches[0].percent_chaos + 0.5]
    for match in clean:
        for name in (match.encoding, *match.could_be_from_charset):
            if name.replace("_", "-") in _DECLARABLE:
                return name.replace("_", "-")
    return matches[0].encoding.replace("_", "-")


def _undecodable_lines(path: Path, encoding: str) -> tuple[int, int, int]:
    """(lines that do not decode, first such line, lines) — only called once decoding failed."""
    bad = first = lines = 0
    with path.open("rb") as handle:
        for lines, raw in enumerate(handle, start=1):  # noqa: B007
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                bad += 1
                first = first or lines
    return bad, first, lines


def check_encoding(product: Product, extract: Extract) -> Verdict | None:
    """A rejection when the file does not decode in the spec's encoding, else None."""
    assert product.source is not None
    encoding = str(product.source.encoding)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with extract.path.open("rb") as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        bad, first, lines = _undecodable_lines(extract.path, encoding)
        likely = _likely_encoding(extract.path)
        looks = f"; it looks like {likely}" if likely and likely != encoding else ""
        fix = f"ask {product.source.system} to re-deliver it in {encoding}"
        declarable = _DECLARABLE.get(likely or "")
        if declarable and declarable != encoding:
            fix += f", or declare `source.encoding: {declarable}` in the spec if that is right"
        return Verdict(
            extract.name,
            Outcome.rejected,
            "encoding",
            f"{extract.name}: {bad} of {lines} lines are not valid {encoding} (first at line "
            f"{first}){looks}. Nothing was loaded from it; {fix}.",
        )
    return None


def _strip_bom(text: str) -> str:
    return text.removeprefix("\ufeff")


def _csv_records(path: Path, encoding: str) -> Iterator[list[str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding=encoding, newline="") as handle:
        yield from csv.reader(handle, strict=True)


def count_csv_records(path: Path) -> int:
    """Records after the header, parsed as CSV: a quoted newline is inside one record.

    Read as latin-1, which decodes any byte: the record structure (quotes, commas,
    newlines) is the same ASCII in every declarable encoding.
    """
    records = 0
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="latin-1", newline="") as handle:
        for records, _ in enumerate(csv.reader(handle)):  # noqa: B007
            pass
    return records


def _check_csv(product: Product, extract: Extract) -> Verdict:
    assert product.source is not None
    expected = [c.name for c in product.columns]
    encoding = str(product.source.encoding)
    rows = _csv_records(extract.path, encoding)
    try:
        header = next(rows, None)
        if header is None:
            return Verdict(extract.name, Outcome.empty, "empty", f"{extract.name}: empty file")
        header = [_strip_bom(header[0]), *header[1:]] if header else header
        if [h.strip() for h in header] != expected:
            return _header_problem(product, extract, header, expected)
        records = 0
        for records, _ in enumerate(rows, start=1):  # noqa: B007
            pass
    except csv.Error:
        line = getattr(rows, "line_num", None)
        return Verdict(
            extract.name,
            Outcome.rejected,
            "quoting",
            f"{extract.name}: broken quoting — a quoted field is never closed (the file ends "
            f"inside it{f', near line {line}' if line else ''}); the file is truncated or a "
            "quote is not doubled. Nothing was loaded from it; ask "
            f"{product.source.system} to re-deliver it.",
        )
    finally:
        rows.close()
    if records == 0:
        return Verdict(
            extract.name, Outcome.empty, "header_only", f"{extract.name}: header only, no records"
        )
    return Verdict(extract.name, Outcome.ok)


def _header_problem(
    product: Product, extract: Extract, header: list[str], expected: list[str]
) -> Verdict:
    assert product.source is not None
    line = ",".join(header)
    for delimiter, word in _OTHER_DELIMITERS.items():
        if [c.strip() for c in line.split(delimiter)] == expected:
            return Verdict(
                extract.name,
                Outcome.rejected,
                "delimiter",
                f"{extract.name}: the delimiter is {word} ({delimiter!r}), the spec's format "
                f"{product.source.format} expects a comma. Nothing was loaded from it; ask "
                f"{product.source.system} to re-deliver it comma-separated.",
            )
    found = [h.strip() for h in header]
    missing = [c for c in expected if c not in found]
    extra = [_shown(c, i + 1) for i, c in enumerate(found) if c not in expected]
    if not missing and not extra:
        what = "the columns are in a different order"
    else:
        what = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra)}" if extra else "",
            )
            if part
        )
    return Verdict(
        extract.name,
        Outcome.rejected,
        "columns",
        f"{extract.name}: the header does not match the spec ({what}). Expected "
        f"{', '.join(expected)}; found {_columns(header)}. Nothing was loaded from it; ask "
        f"{product.source.system} to re-deliver it with the declared columns, or change the "
        "spec if the source changed on purpose.",
    )


def _check_jsonl(product: Product, extract: Extract) -> Verdict:
    assert product.source is not None
    declared = {c.name for c in product.columns}
    required = {c.name for c in product.columns if not c.nullable}
    seen: set[str] = set()
    objects = lines = 0
    with extract.path.open("rb") as handle:
        for lines, raw in enumerate(handle, start=1):  # noqa: B007
            if len(raw) > MAX_RECORD_BYTES or not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                objects += 1
                seen.update(str(k) for k in record)
    if lines == 0:
        return Verdict(extract.name, Outcome.empty, "empty", f"{extract.name}: empty file")
    if objects == 0:
        return Verdict(
            extract.name,
            Outcome.rejected,
            "not_json_lines",
            f"{extract.name}: none of its {lines} lines is a JSON object; the spec's format is "
            f"jsonl (one JSON object per line). Nothing was loaded from it; ask "
            f"{product.source.system} to re-deliver it as JSON lines.",
        )
    extra = sorted(seen - declared)
    missing = sorted(required - seen)
    if extra or missing:
        found = sorted(seen)
        shown = [_shown(k, i + 1) for i, k in enumerate(found)]
        parts = [f"missing {', '.join(missing)}" if missing else ""]
        parts.append(
            f"unexpected {', '.join(_shown(k, found.index(k) + 1) for k in extra)}" if extra else ""
        )
        return Verdict(
            extract.name,
            Outcome.rejected,
            "columns",
            f"{extract.name}: the records' keys do not match the spec "
            f"({'; '.join(p for p in parts if p)}). Expected {', '.join(sorted(declared))}; "
            f"found {', '.join(shown)}. Nothing was loaded from it; ask "
            f"{product.source.system} to re-deliver it with the declared columns, or change "
            "the spec if the source changed on purpose.",
        )
    return Verdict(extract.name, Outcome.ok)


def _check_parquet(product: Product, extract: Extract) -> Verdict:
    import pyarrow.parquet as pq

    assert product.source is not None
    try:
        meta = pq.ParquetFile(extract.path).metadata
        found = [meta.schema.column(i).name for i in range(meta.num_columns)]
    except Exception:  # noqa: BLE001 — any unreadable file is the same delivery problem
        return Verdict(
            extract.name,
            Outcome.rejected,
            "unreadable",
            f"{extract.name}: not a readable Parquet file (truncated, or not Parquet). Nothing "
            f"was loaded from it; ask {product.source.system} to re-deliver it.",
        )
    expected = [c.name for c in product.columns]
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    if missing or extra:
        return _header_problem(product, extract, found, expected)
    if meta.num_rows == 0:
        return Verdict(extract.name, Outcome.empty, "empty", f"{extract.name}: no records")
    if (problem := _parquet_text_problem(product, extract)) is not None:
        return problem
    return Verdict(extract.name, Outcome.ok)


def _parquet_text_problem(product: Product, extract: Extract) -> Verdict | None:
    """A rejection when a string column holds bytes that are not UTF-8 (Parquet strings
    must be); DuckDB would refuse the file quoting the value."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert product.source is not None
    parquet = pq.ParquetFile(extract.path)
    text = [f.name for f in parquet.schema_arrow if pa.types.is_string(f.type)]
    offset = 0
    for batch in parquet.iter_batches(columns=text, batch_size=65_536) if text else ():
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid as exc:
                index = re.search(r"index (\d+)", str(exc))
                record = f"record {offset + int(index.group(1)) + 1}, " if index else ""
                return Verdict(
                    extract.name,
                    Outcome.rejected,
                    "encoding",
                    f"{extract.name}: {record}column {name} is not valid UTF-8 (Parquet "
                    "strings must be). Nothing was loaded from it; ask "
                    f"{product.source.system} to re-deliver it.",
                )
        offset += batch.num_rows
    return None


def check_delivery(product: Product, extract: Extract) -> Verdict:
    """Check one delivery of a source product as a whole (see the module docstring)."""
    assert product.source is not None
    fmt = str(product.source.format)
    path = extract.path
    if fmt not in (SourceFormat.csv, SourceFormat.jsonl, SourceFormat.parquet):
        return Verdict(extract.name, Outcome.ok)  # another reader checks its own deliveries
    if path.stat().st_size == 0:
        return Verdict(extract.name, Outcome.empty, "empty", f"{extract.name}: empty file")
    if fmt == SourceFormat.parquet:
        return _check_parquet(product, extract)
    if (problem := check_encoding(product, extract)) is not None:
        return problem
    if fmt == SourceFormat.csv:
        return _check_csv(product, extract)
    return _check_jsonl(product, extract)
