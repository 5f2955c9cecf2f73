"""Output check for result tables leaving a research workspace.

A workspace holds row-level pseudonymised data; what leaves it must be
aggregate and free of identifiers. This check is the gate: it reads a CSV or
Parquet file and reports small cells, identifier-shaped values (CPR numbers,
64-hex pseudonyms, phone numbers, known names) and signs of row-level data.

It is deliberately conservative (a false alarm costs a reviewer a minute, a
miss can identify a patient) and it never repeats an offending value: a
finding names the column, the first few row numbers and what to change, so the
report itself can be mailed or logged. It does not prove a table safe: totals
that reveal a hidden cell, or combinations of tables, still need a human
reviewer; the report says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from regionlab.errors import UserError
from regionlab.privacy.identifiers import CPR_STRICT, EMAIL, PERSON_KEY, PHONE

DEFAULT_THRESHOLD = 5
MAX_ROWS_LISTED = 5
MIN_ROWS_FOR_ROW_LEVEL = 10
_ROW = "__regionlab_row"

Kind = Literal["small_cell", "identifier", "row_level"]

# Column-name patterns (matched on the lower-cased name).
_COUNT_NAME = re.compile(
    r"^(n|count|antal|cnt|freq|frequency|persons|personer|patients|patienter"
    r"|n_.+|.+_n|count_.+|.+_count|antal_.+|.+_antal|num_.+|number_of_.+)$"
)
_AGGREGATE_TOKENS = frozenset(
    [
        "mean",
        "avg",
        "average",
        "gennemsnit",
        "median",
        "sum",
        "total",
        "pct",
        "percent",
        "procent",
        "andel",
        "rate",
        "ratio",
        "prop",
        "proportion",
        "sd",
        "std",
        "stddev",
        "var",
        "variance",
        "min",
        "max",
        "q1",
        "q3",
        "iqr",
        "p25",
        "p75",
        "ci",
        "lower",
        "upper",
        "estimate",
        "se",
        "or",
        "hr",
        "rr",
        "incidence",
        "prevalence",
    ]
)
_PERSON_KEY_NAME = re.compile(
    r"(cpr|pnr|personnummer|person_?(id|key|nr|noegle|nøgle)|patient_?(id|key|nr)"
    r"|pseudonym|subject_?id|borger_?id|^pid$|^person$|^patient$|lbnr|loebenr|løbenr)"
)
_ID_NAME = re.compile(r"(^id$|_id$|^id_|key$|^nr$|_nr$|uuid|guid)")
_DIRECT_ID_NAME = re.compile(
    r"^(navn|name|fornavn|efternavn|full_?name|first_?name|last_?name|patient_?(navn|name)"
    r"|person_?(navn|name)|adresse|address|tlf|telefon|telefonnummer|phone|phone_?number"
    r"|mobil|mobile|email|e_?mail)$"
)

# Value patterns (Rust regex syntax, evaluated by polars), from the one owner of identifier
# shapes. Not inside a longer token (hex keys hold CPR-shaped runs) nor after "." or ","
# (the digits of a decimal fraction are no CPR or phone number).
_CPR = CPR_STRICT.search_pattern()
_HEX64 = PERSON_KEY.search_pattern()
_PHONE = PHONE.with_near("0-9A-Za-z+.,", "0-9A-Za-z").search_pattern()
_EMAIL = EMAIL.search_pattern()
_TOKEN = r"^[0-9A-Za-z_-]{12,}$"
_NAME_CHUNK = 200


@dataclass(frozen=True)
class Finding:
    """One problem: where it is and what must change, never the value itself."""

    kind: Kind
    column: str
    problem: str
    fix: str
    rows: tuple[int, ...] = ()
    """First few affected rows, 1-based, header not counted; empty = whole column."""
    n_rows: int = 0

    def render(self) -> str:
        where = f"column '{self.column}'"
        if self.rows:
            more = ", ..." if self.n_rows > len(self.rows) else ""
            listed = ", ".join(str(r) for r in self.rows)
            where += f", row(s) {listed}{more} ({self.n_rows} in all)"
        return f"[{self.kind}] {where}: {self.problem}. Fix: {self.fix}."


@dataclass(frozen=True)
class OutputCheckReport:
    """The verdict on one file; ``render()`` gives the text the CLI prints."""

    path: Path
    n_rows: int
    n_columns: int
    threshold: int
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.findings

    def render(self) -> str:
        head = f"Output check of {self.path.name}: {self.n_rows} rows, {self.n_columns} columns"
        if self.ok:
            return (
                f"{head}: OK - no small cells, identifiers or row-level data found.\n"
                "Still check by eye that no total or other table reveals a hidden cell."
            )
        lines = [f"{head}: {len(self.findings)} finding(s); the file must not leave the workspace."]
        lines += [f"- {f.render()}" for f in self.findings]
        lines.append(
            "Rows are numbered from 1, header not counted. Values are not shown on purpose."
        )
        return "\n".join(lines)


def _read(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise UserError(f"{path}: no such file; give the path of a CSV or Parquet result table.")
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".tsv", ".txt"}:
            # All text: a CPR without dash must keep its leading zero.
            return pl.read_csv(
                path, infer_schema=False, separator="\t" if suffix == ".tsv" else ","
            )
        if suffix in {".parquet", ".pq"}:
            return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UserError(
            f"{path}: could not read it as {suffix[1:]} ({type(exc).__name__}); "
            "export the result again as CSV (comma-separated, header row) or Parquet."
        ) from None
    raise UserError(
        f"{path}: unsupported file type {suffix or '(none)'}; export results as .csv or .parquet."
    )


def _tokens(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9æøå]+", name.lower())) - {""}


def _is_count_name(name: str) -> bool:
    return bool(_COUNT_NAME.match(name.lower()))


def _is_aggregate_name(name: str) -> bool:
    return _is_count_name(name) or bool(_tokens(name) & _AGGREGATE_TOKENS)


def _text(df: pl.DataFrame, column: str) -> pl.Expr:
    """The column as text; whole numbers of 9 digits get back a CPR's lost leading 0."""
    dtype = df.schema[column]
    expr = pl.col(column).cast(pl.Utf8, strict=False)
    if dtype.is_integer():
        expr = pl.when(expr.str.len_chars() == 9).then(expr.str.zfill(10)).otherwise(expr)
    return expr


def _is_numeric(df: pl.DataFrame, column: str) -> bool:
    dtype = df.schema[column]
    if dtype.is_numeric():
        return True
    if dtype != pl.Utf8:
        return False
    col = df[column].drop_nulls()
    if col.len() == 0:
        return False
    return col.cast(pl.Float64, strict=False).null_count() == 0


class _Checker:
    def __init__(self, df: pl.DataFrame, threshold: int, known_names: list[str]) -> None:
        self.df = df.with_row_index(_ROW, offset=1)
        self.columns = df.columns
        self.threshold = threshold
        self.known_names = known_names
        self.findings: list[Finding] = []

    def add(self, kind: Kind, column: str, problem: str, fix: str, mask: pl.Expr | None) -> None:
        if mask is None:
            self.findings.append(Finding(kind, column, problem, fix))
            return
        hit = self.df.filter(mask.fill_null(False))
        if hit.height:
            rows = tuple(hit[_ROW].head(MAX_ROWS_LISTED).to_list())
            self.findings.append(Finding(kind, column, problem, fix, rows, hit.height))

    def small_cells(self, column: str) -> None:
        value = pl.col(column).cast(pl.Float64, strict=False)
        mask = (value >= 1) & (value < self.threshold) & (value == value.floor())
        self.add(
            "small_cell",
            column,
            f"count(s) between 1 and {self.threshold - 1}",
            f"suppress counts below {self.threshold} (show '<{self.threshold}') and hide a "
            "second cell in each affected row/column so totals do not reveal them, "
            "or merge categories",
            mask,
        )

    def identifiers(self, column: str, numeric: bool) -> None:
        if self.df.schema[column].is_float():
            return
        text = _text(self.df, column)
        remove = f"remove column '{column}' or the identifying text from it"
        self.add(
            "identifier", column, "CPR-number-shaped value(s)", remove, text.str.contains(_CPR)
        )
        self.add(
            "identifier",
            column,
            "64-hex value(s) shaped like a pseudonym/person key",
            remove,
            text.str.contains(_HEX64),
        )
        if numeric:
            return
        self.add(
            "identifier", column, "phone-number-shaped value(s)", remove, text.str.contains(_PHONE)
        )
        self.add(
            "identifier",
            column,
            "e-mail-address-shaped value(s)",
            remove,
            text.str.contains(_EMAIL),
        )
        names = [n.strip() for n in self.known_names if len(n.strip()) >= 2]
        if names:
            mask = pl.lit(False)
            for i in range(0, len(names), _NAME_CHUNK):
                chunk = "|".join(re.escape(n) for n in names[i : i + _NAME_CHUNK])
                mask = mask | text.str.contains(rf"(?i)\b(?:{chunk})\b")
            self.add("identifier", column, "known person name(s)", remove, mask)

    def row_level(self, column: str, count_like: bool) -> bool:
        """Key-named or all-distinct id columns; True when one was reported."""
        name = column.lower()
        if count_like:
            return False
        if _DIRECT_ID_NAME.match(name):
            self.add(
                "identifier",
                column,
                "column named like a direct identifier (name, address, phone, e-mail)",
                f"remove column '{column}'",
                None,
            )
            return True
        if _PERSON_KEY_NAME.search(name):
            self.add(
                "row_level",
                column,
                "column named like a person key/identifier: results look like one row per person",
                f"remove column '{column}' and aggregate rows (group and count)",
                None,
            )
            return True
        n = self.df.height
        if _ID_NAME.search(name) and n >= MIN_ROWS_FOR_ROW_LEVEL:
            col = self.df[column]
            if col.null_count() == 0 and col.n_unique() == n:
                self.add(
                    "row_level",
                    column,
                    "id-like column with a different value on every row: looks like row-level data",
                    f"aggregate rows (group and count) and remove column '{column}'",
                    None,
                )
                return True
        return False

    def key_shaped_distinct(self, column: str) -> bool:
        """Mostly pseudonym-like tokens, (almost) one distinct value per row."""
        n = self.df.height
        text = _text(self.df, column)
        stats = self.df.select(
            text.str.contains(_TOKEN).fill_null(False).mean().alias("shape"),
            text.str.contains(r"[0-9]").fill_null(False).mean().alias("digits"),
            pl.col(column).n_unique().alias("distinct"),
        ).row(0, named=True)
        return stats["shape"] >= 0.9 and stats["digits"] >= 0.9 and stats["distinct"] >= 0.9 * n

    def run(self) -> list[Finding]:
        has_aggregate = any(_is_aggregate_name(c) for c in self.columns)
        reported_row_level = False
        for column in self.columns:
            count_like = _is_count_name(column)
            numeric = _is_numeric(self.df, column)
            if count_like:
                self.small_cells(column)
            self.identifiers(column, numeric)
            reported_row_level |= self.row_level(column, count_like)
        if (
            not has_aggregate
            and not reported_row_level
            and self.df.height >= MIN_ROWS_FOR_ROW_LEVEL
        ):
            for column in self.columns:
                if self.key_shaped_distinct(column):
                    self.add(
                        "row_level",
                        column,
                        "no count or other aggregate column, and this key-shaped column has "
                        "(almost) one distinct value per row: looks like row-level data",
                        f"aggregate rows (group and count) and remove column '{column}'",
                        None,
                    )
        return self.findings


def check_output(
    path: Path, *, threshold: int = DEFAULT_THRESHOLD, known_names: Iterable[str] = ()
) -> OutputCheckReport:
    """Check a CSV or Parquet result table before it leaves a workspace.

    ``known_names`` are person names from the register (first and last names);
    they are matched as whole words, case-insensitively, in text columns.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise UserError(f"threshold must be a whole number of at least 1, got {threshold!r}.")
    path = Path(path)
    df = _read(path)
    if _ROW in df.columns:
        raise UserError(f"{path}: column name '{_ROW}' is reserved; rename that column.")
    findings = _Checker(df, threshold, list(known_names)).run()
    return OutputCheckReport(
        path=path,
        n_rows=df.height,
        n_columns=df.width,
        threshold=threshold,
        findings=tuple(findings),
    )
