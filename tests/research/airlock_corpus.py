"""The airlock's corpus: disclosive and safe outputs, as a researcher would export them.

Every case is a file's bytes plus the verdict the airlock must reach:
``disclosive`` cases must not be auto-released, ``safe`` ones must be. Cases
with ``earlier`` are checked against those outputs released first
(differencing). docs/airlock.md lists the corpus; the tests read it from here.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    data: bytes
    disclosive: bool
    why: str
    earlier: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)


def _csv(text: str, encoding: str = "utf-8") -> bytes:
    return (
        text.strip("\n").replace("\n", "\r\n" if encoding == "cp1252" else "\n").encode(encoding)
        + b"\n"
    )


def _parquet(df: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    df.write_parquet(out)
    return out.getvalue()


AGE_BANDS = ["18-39", "40-59", "60-79", "80+"]
MUNIS = ["461", "630", "561", "621"]


def _lab_rows(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "age_band": [AGE_BANDS[i % 4] for i in range(n)],
            "sex": ["F" if i % 3 else "M" for i in range(n)],
            "municipality": [MUNIS[i % 4] for i in range(n)],
            "sampled_at": [
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00"
                for i in range(n)
            ],
            "value": [40.0 + (i * 7919 % 500) / 10 for i in range(n)],
        }
    )


def _pseudonym_rows(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ref": [hashlib.sha256(f"p{i}".encode()).hexdigest()[:16] for i in range(n)],
            "n_tests": [3 + i % 5 for i in range(n)],
            "mean_hba1c": [48.0 + i % 9 for i in range(n)],
        }
    )


def _magnitude(top_share: float) -> bytes:
    """Cost by department, with the dominance evidence columns the client helper adds."""
    rows = []
    for d, total in (("cardiology", 900_000.0), ("endocrinology", 650_000.0)):
        top1 = total * top_share
        rows.append(f"{d},{40},{total:.0f},{total / 40:.1f},{total:.0f},{top1:.0f},{top1 / 4:.0f}")
    return _csv("department,n,sum_cost,mean_cost,sdc_total,sdc_top1,sdc_top2\n" + "\n".join(rows))


DISCLOSIVE: list[Case] = [
    Case(
        "wide-crosstab",
        "wide.csv",
        _csv("age_band,K,M\n40-59,3,12\n60-79,25,2\n"),
        True,
        "wide crosstab: the category columns K and M hold counts 3 and 2",
    ),
    Case(
        "semicolon-csv",
        "excel_da.csv",
        _csv("aldersgruppe;køn;antal\n40-59;K;3\n40-59;M;14\n60-79;K;22\n60-79;M;31\n", "cp1252"),
        True,
        "Danish Excel export: ';' delimiter, Windows-1252, a 3",
    ),
    Case(
        "count-named-diabetics",
        "diab.csv",
        _csv("municipality,diabetics\nVejle,41\nKolding,2\nFredericia,19\n"),
        True,
        "count column named after the condition",
    ),
    Case(
        "count-named-antal-personer",
        "antal.csv",
        _csv("kommune,Antal personer\nVejle,41\nKolding,4\nFredericia,19\n"),
        True,
        "Danish two-word count column name",
    ),
    Case(
        "count-named-N-trailing-space",
        "n_space.csv",
        _csv("sex,N \nF,33\nM,1\n"),
        True,
        "count column 'N ' with a trailing space",
    ),
    Case(
        "number-as-text-with-space",
        "text3.parquet",
        _parquet(pl.DataFrame({"sex": ["F", "M"], "n": ["3 ", "40"]})),
        True,
        'the count "3 " stored as text',
    ),
    Case(
        "row-level-lab-rows",
        "lab_rows.csv",
        _lab_rows(2000).write_csv().encode(),
        True,
        "2,000 row-level lab rows with exact timestamps",
    ),
    Case(
        "pseudonym-prefix-rows",
        "per_person.csv",
        _pseudonym_rows(300).write_csv().encode(),
        True,
        "one row per person keyed by a 16-character pseudonym prefix",
    ),
    Case(
        "dominated-magnitude",
        "cost_dominated.csv",
        _magnitude(0.93),
        True,
        "one contributor makes up 93 % of each cell total (n-k rule)",
    ),
    Case(
        "p-ratio-magnitude",
        "cost_pratio.csv",
        _magnitude(0.80),
        True,
        "the rest after the 2 largest is under 10 % of the largest (p-ratio rule)",
    ),
    Case(
        "magnitude-max",
        "max.csv",
        _csv("department,n,mean_los,max_los\ncardiology,40,4.2,61\nendocrinology,55,3.1,30\n"),
        True,
        "the maximum is one person's value",
    ),
    Case(
        "survival-at-every-event",
        "km.csv",
        _csv("time,n_risk,n_event,survival\n12,40,1,0.975\n30,39,2,0.925\n41,37,1,0.900\n"),
        True,
        "Kaplan-Meier table at each event time: events of 1 and 2",
    ),
    Case(
        "regression-few-dof",
        "ols.csv",
        _csv(
            "term,estimate,std_err,p_value,df_resid\nintercept,41.2,3.1,0.001,6\n"
            "age,0.31,0.05,0.002,6\n"
        ),
        True,
        "regression on 9 persons: 6 residual degrees of freedom",
    ),
    Case(
        "cpr-in-note",
        "notes.csv",
        _csv("sex,n,note\nF,40,ok\nM,41,see 010190-1234\n"),
        True,
        "a CPR number in a note",
    ),
    Case(
        "lone-hidden-cell-beside-total",
        "hidden.csv",
        _csv("sex,n\nF,<5\nM,41\nTotal,44\n"),
        True,
        "one suppressed cell and a total: 44 - 41 = 3",
    ),
    Case(
        "differencing-same-cells",
        "over40.csv",
        _csv("municipality,n\nVejle,38\nKolding,27\nFredericia,19\n"),
        True,
        "earlier: all ages; now: 40+; Vejle differs by 3",
        earlier=(("all_ages.csv", _csv("municipality,n\nVejle,41\nKolding,27\nFredericia,19\n")),),
    ),
    Case(
        "differencing-wide-against-long",
        "wide_now.csv",
        _csv("age_band,K,M\n40-59,31,27\n60-79,44,49\n"),
        True,
        "earlier: long table by age band and sex; now: the same as a wide crosstab, 3 fewer",
        earlier=(
            (
                "long_before.csv",
                _csv("age_band,sex,n\n40-59,K,31\n40-59,M,27\n60-79,K,44\n60-79,M,52\n"),
            ),
        ),
    ),
    Case(
        "utf16-tab",
        "unicode.txt",
        "behandling\tantal\nmetformin\t212\ninsulin\t4\n".encode("utf-16"),
        True,
        "Excel 'Unicode text': UTF-16 with BOM, tab-delimited, a 4",
    ),
    Case(
        "year-columns-wide",
        "years.csv",
        _csv("behandling,2022,2023\nmetformin,212,230\nGLP-1,4,19\n"),
        True,
        "wide table with years as columns: a 4",
    ),
    Case(
        "exact-dates-row-level",
        "admissions.csv",
        pl.DataFrame(
            {
                "admitted": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(60)],
                "department": ["cardiology", "endocrinology", "surgery"] * 20,
                "age_band": AGE_BANDS * 15,
            }
        )
        .write_csv()
        .encode(),
        True,
        "one row per admission: exact dates, no count",
    ),
    Case(
        "differencing-totals",
        "by_age.csv",
        _csv("age_band,n\n18-39,20\n40-59,30\n60-79,46\n"),
        True,
        "earlier: 98 persons by sex; now: 96 by age band (2 without age)",
        earlier=(("by_sex.csv", _csv("sex,n\nF,50\nM,48\n")),),
    ),
    Case(
        "differencing-nested-subtotals",
        "over40_by_age.csv",
        _csv(
            "municipality,age_band,n\nVejle,40-59,20\nVejle,60+,18\nKolding,40-59,11\n"
            "Kolding,60+,9\nFredericia,40-59,10\nFredericia,60+,9\n"
        ),
        True,
        "earlier: all ages by municipality; now: 40+ by municipality × age band; Vejle's "
        "sub-total is 3 lower (the grand totals differ by 10)",
        earlier=(("all_ages.csv", _csv("municipality,n\nVejle,41\nKolding,27\nFredericia,19\n")),),
    ),
    Case(
        "differencing-nested-coarser-now",
        "by_municipality.csv",
        _csv("municipality,n\nVejle,36\nKolding,20\n"),
        True,
        "earlier: by municipality × sex; now: by municipality alone, Vejle 2 lower",
        earlier=(
            (
                "by_sex.csv",
                _csv("municipality,sex,n\nVejle,F,20\nVejle,M,18\nKolding,F,14\nKolding,M,13\n"),
            ),
        ),
    ),
]

SAFE: list[Case] = [
    Case(
        "long-frequency",
        "long.csv",
        _csv("age_band,sex,n\n40-59,F,31\n40-59,M,27\n60-79,F,44\n60-79,M,52\n"),
        False,
        "long frequency table, every count ≥ 5",
    ),
    Case(
        "wide-crosstab-safe",
        "wide_ok.csv",
        _csv("age_band,K,M\n40-59,31,27\n60-79,44,52\n"),
        False,
        "wide crosstab, every count ≥ 5",
    ),
    Case(
        "semicolon-safe",
        "excel_ok.csv",
        _csv("aldersgruppe;køn;antal;andel\n40-59;K;31;12,5\n40-59;M;27;10,9\n", "cp1252"),
        False,
        "Danish Excel export with decimal commas, counts ≥ 5",
    ),
    Case(
        "suppressed-with-secondary",
        "suppressed.csv",
        _csv("age_band,n\n18-39,<5\n40-59,<5\n60-79,40\nTotal,46\n"),
        False,
        "two hidden cells beside the total (secondary suppression)",
    ),
    Case(
        "magnitude-with-evidence",
        "cost_ok.csv",
        _magnitude(0.30),
        False,
        "costs by department, largest contributor 30 %",
    ),
    Case(
        "survival-yearly",
        "km_yearly.csv",
        _csv(
            "year,n_risk,n_event,n_censored,survival\n1,400,22,15,0.945\n"
            "2,363,19,12,0.896\n3,332,17,20,0.850\n"
        ),
        False,
        "survival by year: at risk, events and censored all ≥ 5",
    ),
    Case(
        "regression-ok",
        "ols_ok.csv",
        _csv(
            "term,estimate,std_err,p_value,df_resid\nintercept,41.2,3.1,0.001,396\n"
            "age,0.31,0.05,0.002,396\n"
        ),
        False,
        "regression on 400 persons",
    ),
    Case(
        "parquet-frequency",
        "freq.parquet",
        _parquet(
            pl.DataFrame(
                {"year": [2023, 2024], "municipality": ["630", "630"], "persons": [118, 131]}
            )
        ),
        False,
        "Parquet frequency table",
    ),
    Case(
        "thousands-separators",
        "large.csv",
        _csv("region;antal personer\nSyddanmark;1.234\nMidtjylland;1.517\n", "cp1252"),
        False,
        "Danish thousands separators in a semicolon file",
    ),
    Case(
        "utf16-tab-safe",
        "unicode_ok.txt",
        "behandling\tantal\nmetformin\t212\ninsulin\t41\n".encode("utf-16"),
        False,
        "UTF-16 tab-delimited, counts ≥ 5",
    ),
    Case(
        "differencing-large-difference",
        "over40_ok.csv",
        _csv("municipality,n\nVejle,30\nKolding,20\nFredericia,12\n"),
        False,
        "earlier: all ages; now 40+: every cell differs by ≥ 5",
        earlier=(
            ("all_ages_ok.csv", _csv("municipality,n\nVejle,41\nKolding,27\nFredericia,19\n")),
        ),
    ),
    Case(
        "differencing-nested-large-difference",
        "over40_by_age_ok.csv",
        _csv(
            "municipality,age_band,n\nVejle,40-59,15\nVejle,60+,15\nKolding,40-59,10\n"
            "Kolding,60+,10\nFredericia,40-59,6\nFredericia,60+,6\n"
        ),
        False,
        "earlier: all ages by municipality; now 40+ by municipality × age band: every "
        "sub-total differs by ≥ 5",
        earlier=(
            ("all_ages_ok.csv", _csv("municipality,n\nVejle,41\nKolding,27\nFredericia,19\n")),
        ),
    ),
]


#: Safe outputs the rules cannot prove safe: queued for an output checker (verdict
#: ``review``), never rejected outright. They are the airlock's false positives.
SAFE_REVIEWED: list[Case] = [
    Case(
        "mean-without-evidence",
        "mean_hba1c.csv",
        _csv("sex,n,mean_hba1c\nF,212,51.3\nM,188,53.0\n"),
        False,
        "means of a lab value with counts, but no dominance evidence columns",
    ),
    Case(
        "structural-zero",
        "zero.csv",
        _csv("sex,diagnosis,n\nF,prostate cancer,0\nM,prostate cancer,41\nF,T2D,87\nM,T2D,93\n"),
        False,
        "a structural zero (no women with prostate cancer)",
    ),
    Case(
        "percent-without-counts",
        "pct.csv",
        _csv("municipality,pct_hba1c_above_53\nVejle,31.2\nKolding,28.9\n"),
        False,
        "percentages with no count column beside them",
    ),
]

ALL_SAFE = SAFE + SAFE_REVIEWED
CASES = DISCLOSIVE + ALL_SAFE
