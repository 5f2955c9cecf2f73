"""A corpus of bad deliveries, made by code from a good delivery of the synthetic region.

Each :class:`Case` turns the newest good delivery of a product into one bad
delivery of a later date and says what must happen: the run's status, the
delivery-level verdict, what is quarantined and at which line, and words the
message must contain. The cases are the real-world shapes of issue 16 and
the poisoned deliveries of issue 15: wrong encoding, control bytes, over-long
lines, broken quoting, quoted newlines, empty and header-only files, another
delimiter, a changed column set, no header, BOM and CRLF, truncated files —
for CSV and JSON lines, and the Parquet shapes that apply.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

#: Longer than the readers' record limit (2 MiB).
LONG = 3 * 1024 * 1024
#: The newest good delivery is from this date; bad ones come a day later.
BAD_DATE = "2026-11-02"


@dataclass(frozen=True)
class Case:
    id: str
    product: str  # domain/id
    make: Callable[[Path], bytes]  # the good delivery → the bad delivery's bytes
    status: str  # the run's status
    verdict: str  # "ok" | "empty:<reason>" | "rejected:<reason>"
    quarantined: dict[str, int] = field(default_factory=dict)  # reason → count
    line: int | None = None  # the quarantined line, when one is
    says: tuple[str, ...] = ()  # words the explanation must contain


# ---- text helpers ------------------------------------------------------------------


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _renew(data: bytes, old: bytes, new: bytes) -> bytes:
    """New row keys for an append product, so the bad delivery's rows are new rows."""
    return data.replace(old, new)


def _first_rows(path: Path, n: int) -> bytes:
    return b"".join(_lines(path)[: n + 1])


def _set_field(line: bytes, index: int, value: bytes) -> bytes:
    """A CSV line (no quoted commas before ``index``) with field ``index`` replaced."""
    cells = line.rstrip(b"\r\n").split(b",")
    cells[index] = value
    return b",".join(cells) + b"\n"


# ---- CSV: the person register (replace) ----------------------------------------------


def latin1(path: Path) -> bytes:
    return path.read_bytes().decode("utf-8").encode("latin-1")


def semicolon(path: Path) -> bytes:
    import csv

    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def extra_column(path: Path) -> bytes:
    lines = _lines(path)
    head = lines[0].rstrip(b"\n") + b",remark\n"
    return head + b"".join(line.rstrip(b"\n") + b",x\n" for line in lines[1:])


def missing_column(path: Path) -> bytes:
    lines = _lines(path)
    return b"".join(line.rstrip(b"\n").rsplit(b",", 1)[0] + b"\n" for line in lines)


def headerless(path: Path) -> bytes:
    return b"".join(_lines(path)[1:])


def unterminated_quote(path: Path) -> bytes:
    lines = _lines(path)
    lines[5] = _set_field(lines[5], 1, b'"Unclosed')
    return b"".join(lines)


def empty(path: Path) -> bytes:
    return b""


def header_only(path: Path) -> bytes:
    return _lines(path)[0]


def shrunk(path: Path) -> bytes:
    lines = _lines(path)
    keep = int((len(lines) - 1) * 0.7)
    return b"".join(lines[: keep + 1])


def bom_crlf(path: Path) -> bytes:
    return b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n")


def quoted_newline(path: Path) -> bytes:
    """One address holds a newline inside its quotes: one record over two lines."""
    text = path.read_text(encoding="utf-8")
    head, first, rest = text.split("\n", 2)
    at = first.index('"') + 1
    first = first[:at] + "c/o Plejecenter\n" + first[at:]
    return f"{head}\n{first}\n{rest}".encode()


# ---- CSV: laboratory results (append) ------------------------------------------------


def _lab(path: Path, prefix: bytes = b"T0") -> list[bytes]:
    return _renew(path.read_bytes(), b"S0", prefix).splitlines(keepends=True)


def lab_overlong(path: Path) -> bytes:
    lines = _lab(path)
    lines[3] = _set_field(lines[3], 3, b"x" * LONG)  # analysis_name; physical line 4
    return b"".join(lines)


def lab_control_bytes(path: Path) -> bytes:
    lines = _lab(path, b"U0")
    lines[2] = _set_field(lines[2], 3, b"H\x01\x00\x1bmoglobin")
    return b"".join(lines)


def lab_truncated(path: Path) -> bytes:
    data = b"".join(_lab(path))
    return data[: data.rstrip(b"\n").rfind(b"\n") + 20]  # the last record cut short


def lab_latin1(path: Path) -> bytes:
    return b"".join(_lab(path)).decode("utf-8").encode("latin-1")


# ---- JSON lines: clinical notes (append) ----------------------------------------------


def _notes(path: Path, prefix: bytes = b'"M0') -> list[bytes]:
    return _renew(path.read_bytes(), b'"N0', prefix).splitlines(keepends=True)


def notes_latin1(path: Path) -> bytes:
    return b"".join(_notes(path)).decode("utf-8").encode("latin-1")


def notes_control_byte(path: Path) -> bytes:
    lines = _notes(path, b'"L0')
    lines[2] = lines[2].replace(b"Patienten", b"Patien\x01ten", 1).replace(b". ", b".\x01 ", 1)
    return b"".join(lines)


def notes_overlong(path: Path) -> bytes:
    lines = _notes(path)
    record = json.loads(lines[4])
    record["text"] = record["text"] + " " + "x" * LONG
    lines[4] = json.dumps(record, ensure_ascii=False).encode() + b"\n"
    return b"".join(lines)


def notes_broken_quote(path: Path) -> bytes:
    lines = _notes(path)
    lines[1] = lines[1].replace(b'","text":"', b',"text":"', 1)
    return b"".join(lines)


def notes_extra_key(path: Path) -> bytes:
    lines = _notes(path)
    out = []
    for line in lines:
        record = json.loads(line)
        record["ward_phone"] = "12345678"
        out.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    return b"".join(out)


def notes_truncated(path: Path) -> bytes:
    data = b"".join(_notes(path))
    return data[: data.rstrip(b"\n").rfind(b"\n") + 60]


def notes_crlf(path: Path) -> bytes:
    return b"".join(_notes(path)).replace(b"\n", b"\r\n")


# ---- Parquet: contacts (append) ---------------------------------------------------------


def _contacts(path: Path) -> pa.Table:
    table = pq.read_table(path)
    ids = pa.array([v.replace("K0", "J0") for v in table.column("contact_id").to_pylist()])
    return table.set_column(table.schema.get_field_index("contact_id"), "contact_id", ids)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def parquet_truncated(path: Path) -> bytes:
    data = _parquet(_contacts(path))
    return data[: len(data) // 2]


def parquet_extra_column(path: Path) -> bytes:
    table = _contacts(path)
    return _parquet(table.append_column("remark", pa.array(["x"] * table.num_rows)))


def parquet_empty(path: Path) -> bytes:
    return _parquet(_contacts(path).slice(0, 0))


def parquet_bad_utf8(path: Path) -> bytes:
    """One department code holds bytes that are not UTF-8 (and a CPR beside them)."""
    table = _contacts(path)
    values = [v.encode() for v in table.column("department_code").to_pylist()]
    cpr = table.column("cpr")[3].as_py().encode()
    values[3] = cpr + b" \xe6\xf8"
    offsets, data = [0], b""
    for value in values:
        data += value
        offsets.append(len(data))
    array = pa.Array.from_buffers(
        pa.string(),
        len(values),
        [None, pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]), pa.py_buffer(data)],
    )
    index = table.schema.get_field_index("department_code")
    return _parquet(table.set_column(index, "department_code", array))


PERSONS = "population/persons"
LABS = "laboratory/lab_results"
NOTES = "clinical_notes/notes"
CONTACTS = "patient_administration/contacts"
REJECTED = "delivery_rejected"

CASES: tuple[Case, ...] = (
    # CSV, replace: the register
    Case("csv-latin1", PERSONS, latin1, REJECTED, "rejected:encoding",
         says=("not valid utf-8", "latin-1", "previous snapshot stays current")),
    Case("csv-semicolon", PERSONS, semicolon, REJECTED, "rejected:delimiter",
         says=("semicolon",)),
    Case("csv-extra-column", PERSONS, extra_column, REJECTED, "rejected:columns",
         says=("unexpected remark", "Expected cpr, first_name")),
    Case("csv-missing-column", PERSONS, missing_column, REJECTED, "rejected:columns",
         says=("missing death_date",)),
    Case("csv-no-header", PERSONS, headerless, REJECTED, "rejected:columns",
         says=("not a column name",)),
    Case("csv-broken-quoting", PERSONS, unterminated_quote, REJECTED, "rejected:quoting",
         says=("never closed",)),
    Case("csv-empty", PERSONS, empty, "up_to_date", "empty:empty", says=("nothing new",)),
    Case("csv-header-only", PERSONS, header_only, "up_to_date", "empty:header_only",
         says=("nothing new",)),
    Case("csv-shrunk", PERSONS, shrunk, "audit_failed", "ok",
         says=("delivery_volume", "-30", "previous snapshot stays current")),
    Case("csv-bom-crlf", PERSONS, bom_crlf, "published", "ok"),
    Case("csv-quoted-newline", PERSONS, quoted_newline, "published", "ok"),
    # CSV, append
    Case("csv-overlong-line", LABS, lab_overlong, "published", "ok",
         {"line_too_long": 1}, line=4),
    Case("csv-control-bytes", LABS, lab_control_bytes, "published", "ok"),
    Case("csv-truncated", LABS, lab_truncated, "published", "ok", {"malformed_line": 1}),
    Case("csv-latin1-append", LABS, lab_latin1, REJECTED, "rejected:encoding"),
    # JSON lines, append
    Case("jsonl-latin1", NOTES, notes_latin1, REJECTED, "rejected:encoding",
         says=("not valid utf-8",)),
    Case("jsonl-control-byte", NOTES, notes_control_byte, "published", "ok",
         {"malformed_line": 1}, line=3),
    Case("jsonl-overlong-line", NOTES, notes_overlong, "published", "ok",
         {"line_too_long": 1}, line=5),
    Case("jsonl-broken-quoting", NOTES, notes_broken_quote, "published", "ok",
         {"malformed_line": 1}, line=2),
    Case("jsonl-extra-key", NOTES, notes_extra_key, REJECTED, "rejected:columns",
         says=("unexpected ward_phone",)),
    Case("jsonl-empty", NOTES, empty, "up_to_date", "empty:empty"),
    Case("jsonl-truncated", NOTES, notes_truncated, "published", "ok", {"malformed_line": 1}),
    Case("jsonl-crlf", NOTES, notes_crlf, "published", "ok"),
    # Parquet, append
    Case("parquet-truncated", CONTACTS, parquet_truncated, REJECTED, "rejected:unreadable"),
    Case("parquet-extra-column", CONTACTS, parquet_extra_column, REJECTED, "rejected:columns",
         says=("unexpected remark",)),
    Case("parquet-empty", CONTACTS, parquet_empty, "up_to_date", "empty:empty"),
    Case("parquet-bad-utf8", CONTACTS, parquet_bad_utf8, REJECTED, "rejected:encoding",
         says=("record 4", "department_code")),
)  # fmt: skip


def plant(case: Case, good: Path, date: str = BAD_DATE) -> Path:
    """Write the case's bad delivery beside ``good`` (dated ``date``); return its path."""
    stem, suffix = good.name.rsplit("_", 1)
    target = good.with_name(f"{stem}_{date}.{suffix.split('.', 1)[1]}")
    target.write_bytes(case.make(good))
    return target
