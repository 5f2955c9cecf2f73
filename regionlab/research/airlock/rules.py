"""The rule set: what makes a result table disclosive, by statistical barn.

The rules follow the SACRO project's ACRO checker (same definitions, its
default risk appetite where the service has no own setting) and add what ACRO
leaves to a human, because ACRO checks tables it builds itself from
microdata, while an airlock receives finished files:

- **frequency tables** (long or wide layout): a count between 1 and the
  threshold fails; zeros are reviewed (class disclosure) unless the policy
  says otherwise; a single hidden cell beside a total fails (it is recovered
  by subtraction);
- **magnitude tables** (sum, mean, median …): every cell needs its count;
  dominance is checked with ACRO's n-k rule (the 2 largest contributions
  ≥ 90 % of the cell total fails) and p-ratio rule (the rest < 10 % of the
  largest fails) from the evidence columns ``sdc_total``, ``sdc_top1``,
  ``sdc_top2`` (stripped on release); without them the table is reviewed;
  minimum and maximum are one person's value and fail;
- **survival tables**: numbers at risk, events and censored are counts;
- **regressions**: residual degrees of freedom below 10 fail, missing ones
  are reviewed;
- **row-level data and identifiers**: CPR-, pseudonym-, phone- and e-mail-
  shaped values, hex prefixes of pseudonyms, person-key and direct-identifier
  column names, exact timestamps, and tables with no count or aggregate at all.

A :class:`Finding` never repeats an offending value: it names the column, the
first rows and what to change, so a report can be logged and mailed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from regionlab.privacy.identifiers import CPR_STRICT, EMAIL, PERSON_KEY, PHONE
from regionlab.research.airlock.columns import Column, describe

Kind = Literal[
    "small_cell",
    "zero",
    "identifier",
    "row_level",
    "dominance",
    "extreme",
    "regression",
    "differencing",
    "unchecked",
]
Severity = Literal["fail", "review"]
Zeros = Literal["allow", "review", "fail"]
TableClass = Literal["frequency", "magnitude", "survival", "regression", "row-level", "unknown"]

MAX_ROWS_LISTED = 5
MIN_ROWS_FOR_ROW_LEVEL = 10
#: ACRO's default risk appetite (``acro/default.yaml``) for what the service has no setting.
NK_N, NK_K = 2, 0.90
P_RATIO = 0.10
SAFE_DOF = 10
ROW = "__regionlab_row"

_PERSON_KEY_NAME = re.compile(
    r"(cpr|pnr|personnummer|person_?(id|key|nr|noegle|nøgle)|patient_?(id|key|nr)"
    r"|pseudonym|subject_?id|borger_?id|^pid(_?\d+)?$|^person$|^patient$|lbnr|loebenr|løbenr)"
)
_ID_NAME = re.compile(r"(^id$|_id$|^id_|key$|^nr$|_nr$|uuid|guid)")
_DIRECT_ID_NAME = re.compile(
    r"^(navn|name|fornavn|efternavn|full_?name|first_?name|last_?name|patient_?(navn|name)"
    r"|person_?(navn|name)|adresse|address|tlf|telefon|telefonnummer|phone|phone_?number"
    r"|mobil|mobile|email|e_?mail)$"
)
_TOTAL_LABEL = r"(?i)^\s*(total|totalt|i alt|ialt|alle|all|sum|overall)\s*$"
_CPR = CPR_STRICT.search_pattern()
_HEX64 = PERSON_KEY.search_pattern()
_HEX_PREFIX = r"^\s*(?:[0-9a-f]{8,63}|[0-9A-F]{8,63})\s*$"
_PHONE = PHONE.with_near("0-9A-Za-z+.,", "0-9A-Za-z").search_pattern()
_EMAIL = EMAIL.search_pattern()
_TOKEN = r"^[0-9A-Za-z_-]{12,}$"
_NAME_CHUNK = 200
_DOF_KEYS = frozenset({"dof", "df", "df_resid", "residual_df", "frihedsgrader", "df_residual"})
_SURVIVAL = frozenset({"at_risk", "n_risk", "n_at_risk", "risikosæt", "survival", "surv"})


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
    severity: Severity = "fail"

    def render(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        if self.rows:
            more = ", ..." if self.n_rows > len(self.rows) else ""
            listed = ", ".join(str(r) for r in self.rows)
            where += f", row(s) {listed}{more} ({self.n_rows} in all)"
        return f"[{self.kind}] {where}: {self.problem}. Fix: {self.fix}."


def _text(df: pl.DataFrame, column: str) -> pl.Expr:
    """The column as text; whole numbers of 9 digits get back a CPR's lost leading 0."""
    dtype = df.schema[column]
    expr = pl.col(column).cast(pl.Utf8, strict=False)
    if dtype.is_integer():
        expr = pl.when(expr.str.len_chars() == 9).then(expr.str.zfill(10)).otherwise(expr)
    return expr


class Checker:
    """Runs every rule over one table; ``run()`` returns the findings, ``table_class`` its barn."""

    def __init__(
        self,
        df: pl.DataFrame,
        *,
        threshold: int,
        known_names: Sequence[str] = (),
        zeros: Zeros = "review",
        decimal_comma: bool = False,
    ) -> None:
        self.columns: list[Column] = describe(df, decimal_comma)
        self.decimal_comma = decimal_comma
        self.raw = df
        self.df = df.with_row_index(ROW, offset=1)
        self.threshold = threshold
        self.known_names = list(known_names)
        self.zeros = zeros
        self.findings: list[Finding] = []

    # ------------------------------------------------------------------ helpers

    def add(
        self,
        kind: Kind,
        column: str,
        problem: str,
        fix: str,
        mask: pl.Expr | None = None,
        severity: Severity = "fail",
    ) -> None:
        if mask is None:
            self.findings.append(Finding(kind, column, problem, fix, severity=severity))
            return
        hit = self.df.filter(mask.fill_null(False))
        if hit.height:
            rows = tuple(hit[ROW].head(MAX_ROWS_LISTED).to_list())
            self.findings.append(
                Finding(kind, column, problem, fix, rows, hit.height, severity=severity)
            )

    def value(self, column: Column) -> pl.Expr:
        from regionlab.research.airlock.columns import numbers

        return numbers(self.raw, column.name, self.decimal_comma)

    def of(self, *roles: str) -> list[Column]:
        return [c for c in self.columns if c.role in roles]

    def by_key(self, keys: frozenset[str]) -> Column | None:
        return next((c for c in self.columns if c.key in keys), None)

    @property
    def table_class(self) -> TableClass:
        keys = {c.key for c in self.columns}
        if any(f.kind == "row_level" for f in self.findings):
            return "row-level"
        if self.of("statistic"):
            return "regression"
        if keys & _SURVIVAL:
            return "survival"
        if self.of("measure", "extreme", "evidence"):
            return "magnitude"
        if self.of("count", "percent"):
            return "frequency"
        return "unknown"

    # ------------------------------------------------------------------ frequency

    def small_cells(self, column: Column) -> None:
        value = self.value(column)
        mask = (value >= 1) & (value < self.threshold) & (value == value.floor())
        self.add(
            "small_cell",
            column.name,
            f"count(s) between 1 and {self.threshold - 1}, i.e. below {self.threshold}",
            f"suppress counts below {self.threshold} (show '<{self.threshold}') and hide a "
            "second cell in each affected row/column so totals do not reveal them, "
            "or merge categories",
            mask,
        )
        if self.zeros != "allow":
            self.add(
                "zero",
                column.name,
                "zero count(s): a zero can tell that everyone in a group shares an attribute "
                "(class disclosure)",
                "merge categories, or the output checker confirms the zeros are structural",
                value == 0,
                severity=self.zeros,
            )

    def lone_hidden_cell(self, column: Column) -> None:
        """One hidden cell in a column that also holds a total is recovered by subtraction."""
        if column.markers != 1:
            return
        labels = [c.name for c in self.of("dimension", "text")]
        has_total = any(
            self.df.select(
                pl.col(n).cast(pl.Utf8, strict=False).str.contains(_TOTAL_LABEL).any()
            ).item()
            for n in labels
        )
        if has_total:
            self.add(
                "small_cell",
                column.name,
                "exactly one hidden cell beside a total: the total minus the shown cells "
                "gives it back",
                "hide a second cell (secondary suppression) or drop the total row",
            )

    # ------------------------------------------------------------------ magnitude etc.

    def magnitude(self) -> None:
        counts = self.of("count")
        for column in self.of("extreme"):
            self.add(
                "extreme",
                column.name,
                "minimum/maximum: each is one person's value",
                f"remove column '{column.name}' or show a percentile of a group of at least "
                f"{self.threshold}",
            )
        aggregates = self.of("measure", "percent")
        if aggregates and not counts:
            names = ", ".join(f"'{c.name}'" for c in aggregates)
            self.add(
                "unchecked",
                names.strip("'"),
                "aggregates without a count column: the threshold cannot be checked",
                "add each cell's number of persons as column 'n'",
                severity="review",
            )
        measures = [c for c in self.of("measure") if c.key not in _DOF_KEYS]
        if not measures:
            return
        total = self.by_key(frozenset({"sdc_total", "sdc_sum"}))
        top1 = self.by_key(frozenset({"sdc_top1", "sdc_max"}))
        top2 = self.by_key(frozenset({"sdc_top2"}))
        if not (total and top1 and top2):
            self.add(
                "dominance",
                measures[0].name,
                "magnitude table without dominance evidence: n-k and p% rules not checked",
                "add columns sdc_total, sdc_top1, sdc_top2 per cell "
                "(regionlab.research.client.magnitude_table computes them; they are removed "
                "on release)",
                severity="review",
            )
            return
        t, a, b = self.value(total), self.value(top1), self.value(top2)
        self.add(
            "dominance",
            total.name,
            "negative contributions: dominance is not defined",
            "review by the output checker",
            (t < 0) | (a < 0) | (b < 0),
            severity="review",
        )
        self.add(
            "dominance",
            measures[0].name,
            f"n-k rule: the {NK_N} largest contributions make up {NK_K:.0%} or more of the cell",
            "merge categories so no cell is dominated by one or two persons",
            (t > 0) & ((a + b) / t >= NK_K),
        )
        self.add(
            "dominance",
            measures[0].name,
            f"p-ratio rule: the contributions after the 2 largest are under {P_RATIO:.0%} "
            "of the largest",
            "merge categories so the largest contributor cannot be estimated",
            (a > 0) & ((t - a - b) / a < P_RATIO),
        )

    def regression(self) -> None:
        if not self.of("statistic"):
            return
        dof = next((c for c in self.columns if c.key in _DOF_KEYS), None)
        if dof is None:
            self.add(
                "regression",
                "",
                "regression output without residual degrees of freedom",
                "add column 'df_resid' (model.df_resid)",
                severity="review",
            )
            return
        self.add(
            "regression",
            dof.name,
            f"residual degrees of freedom below {SAFE_DOF}: the model nearly reproduces its data",
            "fit the model on more persons or with fewer parameters",
            self.value(dof) < SAFE_DOF,
        )

    # ------------------------------------------------------------------ identifiers

    def identifiers(self, column: Column) -> None:
        if self.df.schema[column.name].is_float():
            return
        text = _text(self.df, column.name)
        remove = f"remove column '{column.name}' or the identifying text from it"
        self.add(
            "identifier", column.name, "CPR-number-shaped value(s)", remove, text.str.contains(_CPR)
        )
        self.add(
            "identifier",
            column.name,
            "64-hex value(s) shaped like a pseudonym/person key",
            remove,
            text.str.contains(_HEX64),
        )
        if column.numeric:
            return
        self.add(
            "identifier",
            column.name,
            "phone-number-shaped value(s)",
            remove,
            text.str.contains(_PHONE),
        )
        self.add(
            "identifier",
            column.name,
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
            self.add("identifier", column.name, "known person name(s)", remove, mask)

    def key_prefixes(self, column: Column) -> None:
        """Hex tokens of 8–63 characters: a prefix of a pseudonym is still a key."""
        if column.numeric or any(f.column == column.name for f in self.findings):
            return
        text = _text(self.df, column.name)
        share = self.df.select(
            (
                text.str.contains(_HEX_PREFIX)
                & text.str.contains(r"[0-9]")
                & text.str.contains(r"[a-fA-F]")
            )
            .fill_null(False)
            .mean()
        ).item()
        if share and share >= 0.5:
            self.add(
                "identifier",
                column.name,
                "hex tokens shaped like a (prefix of a) pseudonym: a key that links rows "
                "to persons",
                f"remove column '{column.name}' and aggregate rows (group and count)",
            )

    def timestamps(self, column: Column) -> None:
        if column.timestamps >= 0.5:
            self.add(
                "identifier",
                column.name,
                "exact timestamps (date and time of day): they link rows to persons across tables",
                f"coarsen '{column.name}' to month or year, or aggregate rows",
            )

    def row_level(self, column: Column) -> bool:
        """Key-named or all-distinct id columns; True when one was reported."""
        name = column.key
        if column.role == "count":
            return False
        if _DIRECT_ID_NAME.match(name):
            self.add(
                "identifier",
                column.name,
                "column named like a direct identifier (name, address, phone, e-mail)",
                f"remove column '{column.name}'",
            )
            return True
        if _PERSON_KEY_NAME.search(name):
            self.add(
                "row_level",
                column.name,
                "column named like a person key/identifier: results look like one row per person",
                f"remove column '{column.name}' and aggregate rows (group and count)",
            )
            return True
        n = self.df.height
        if _ID_NAME.search(name) and n >= MIN_ROWS_FOR_ROW_LEVEL:
            col = self.df[column.name]
            if col.null_count() == 0 and col.n_unique() == n:
                self.add(
                    "row_level",
                    column.name,
                    "id-like column with a different value on every row: looks like row-level data",
                    f"aggregate rows (group and count) and remove column '{column.name}'",
                )
                return True
        return False

    def key_shaped_distinct(self, column: Column) -> bool:
        """Mostly pseudonym-like tokens, (almost) one distinct value per row."""
        n = self.df.height
        text = _text(self.df, column.name)
        stats = self.df.select(
            text.str.contains(_TOKEN).fill_null(False).mean().alias("shape"),
            text.str.contains(r"[0-9]").fill_null(False).mean().alias("digits"),
            pl.col(column.name).n_unique().alias("distinct"),
        ).row(0, named=True)
        return stats["shape"] >= 0.9 and stats["digits"] >= 0.9 and stats["distinct"] >= 0.9 * n

    # ------------------------------------------------------------------ run

    def run(self) -> list[Finding]:
        reported_row_level = False
        for column in self.columns:
            if column.role == "count":
                self.small_cells(column)
                self.lone_hidden_cell(column)
            self.identifiers(column)
            self.timestamps(column)
            reported_row_level |= self.row_level(column)
            self.key_prefixes(column)
        named_aggregate = self.of("count", "measure", "percent", "extreme", "statistic", "evidence")
        if not named_aggregate and self.df.height >= MIN_ROWS_FOR_ROW_LEVEL:
            for column in self.columns:
                if self.key_shaped_distinct(column):
                    reported_row_level = True
                    self.add(
                        "row_level",
                        column.name,
                        "no count or other aggregate column, and this key-shaped column has "
                        "(almost) one distinct value per row: looks like row-level data",
                        f"aggregate rows (group and count) and remove column '{column.name}'",
                    )
            if not reported_row_level:
                self.add(
                    "row_level",
                    "",
                    f"{self.df.height} rows and no count, sum, mean or other aggregate column: "
                    "looks like row-level data",
                    "aggregate rows (group and count) before export",
                )
        elif not named_aggregate and self.of("dimension", "text"):
            self.add(
                "unchecked",
                "",
                "no count or statistic column: the rules cannot tell what this table shows",
                "add the count of persons behind each row as column 'n'",
                severity="review",
            )
        self.magnitude()
        self.regression()
        return self.findings


__all__ = [
    "MAX_ROWS_LISTED",
    "NK_K",
    "NK_N",
    "P_RATIO",
    "SAFE_DOF",
    "Checker",
    "Finding",
    "Kind",
    "Severity",
    "TableClass",
    "Zeros",
]
