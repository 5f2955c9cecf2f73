"""Find identifiers from the person register in text and in decoded data files.

Used by the tests and by erasure receipts to show that no CPR number, phone
number or full name of a registered person is left where it must not be.
Parquet pages are compressed, so files are decoded before they are searched;
a raw byte search would prove nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from regionlab.privacy.identifiers import PHONE, cprs_in_text, normalise_cpr

_NON_DIGIT = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class Identifiers:
    cprs: frozenset[str]  # normalised: 10 digits
    phones: frozenset[str]  # 8 digits
    full_names: frozenset[str]  # "First Last"


def register_identifiers(persons_csv: Path) -> Identifiers:
    """The identifiers of every person in a raw register extract."""
    frame = pl.read_csv(
        persons_csv, infer_schema_length=0, truncate_ragged_lines=True, ignore_errors=True
    )
    cprs = {normalise_cpr(c) for c in frame["cpr"].drop_nulls()}
    phones = {_NON_DIGIT.sub("", p)[-8:] for p in frame["phone"].drop_nulls()}
    names = {
        f"{a} {b}" for a, b in zip(frame["first_name"], frame["last_name"], strict=True) if a and b
    }
    return Identifiers(
        frozenset(c for c in cprs if c is not None),
        frozenset(p for p in phones if len(p) == 8),
        frozenset(names),
    )


def scan_text(text: str, ids: Identifiers) -> Counter[str]:
    """How many register CPRs, phones and full names occur in ``text`` (counts only)."""
    found: Counter[str] = Counter()
    found["cpr"] = sum(c in ids.cprs for c in cprs_in_text(text))
    phones = (_NON_DIGIT.sub("", text[s:e])[-8:] for s, e in PHONE.spans(text))
    found["phone"] = sum(p in ids.phones for p in phones)
    found["name"] = sum(text.count(name) for name in ids.full_names if name in text)
    return found


def parquet_text(paths: Iterable[Path]) -> str:
    """Every value of every Parquet file, decoded and rendered as text, one per line."""
    con = duckdb.connect()
    parts: list[str] = []
    for path in paths:
        frame = con.execute("SELECT * FROM read_parquet(?)", [str(path)]).pl()
        for column in frame.columns:
            parts.extend(frame[column].cast(pl.Utf8, strict=False).drop_nulls().to_list())
    con.close()
    return "\n".join(parts)
