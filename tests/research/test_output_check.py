"""Output check: planted problems are caught (without echoing them); clean tables pass."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from regionlab.errors import UserError
from regionlab.research.output_check import check_output

CPR = "010190-1234"
CPR_NO_DASH = "0101901234"


def clean_table() -> pl.DataFrame:
    munis = ["Odense", "Vejle", "Esbjerg", "Kolding", "Svendborg", "Middelfart"]
    return pl.DataFrame(
        {
            "sex": ["F", "M"] * 6,
            "municipality": [m for m in munis for _ in range(2)],
            "age_band": ["40-69"] * 12,
            "n": [12, 40, 7, 5, 0, 33, 101, 9, 18, 27, 64, 8],
            "mean_age": [
                51.2,
                0.0101901234,
                49.9,
                60.1,
                None,
                58.0,
                47.3,
                52.2,
                55.5,
                44.4,
                49.0,
                61.7,
            ],
            "pct_diabetes": [10.5, 3.2, 0.0, 1.0, None, 12.0, 8.8, 7.7, 6.6, 5.5, 4.4, 3.3],
        }
    )


def write(df: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.write_csv(path)
    else:
        df.write_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_clean_aggregate_table_passes(tmp_path: Path, suffix: str) -> None:
    report = check_output(
        write(clean_table(), tmp_path / f"result{suffix}"), known_names=["Jensen", "Mette"]
    )
    assert report.ok, report.render()
    assert report.n_rows == 12 and report.n_columns == 6
    assert "OK" in report.render()


def test_suppressed_markers_are_not_small_cells(tmp_path: Path) -> None:
    df = clean_table().with_columns(pl.col("n").cast(pl.Utf8))
    df = df.with_columns(pl.when(pl.col("n") == "12").then(pl.lit("<5")).otherwise("n").alias("n"))
    assert check_output(write(df, tmp_path / "r.csv")).ok


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_planted_small_cell(tmp_path: Path, suffix: str) -> None:
    df = clean_table().with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(3).otherwise(pl.col("n")).alias("n")
    )
    report = check_output(write(df, tmp_path / f"r{suffix}"))
    assert not report.ok
    [finding] = report.findings
    assert (finding.kind, finding.column, finding.rows, finding.n_rows) == (
        "small_cell",
        "n",
        (4,),
        1,
    )
    assert "below 5" in report.render()


def test_threshold_is_configurable(tmp_path: Path) -> None:
    path = write(clean_table(), tmp_path / "r.csv")
    report = check_output(path, threshold=10)
    [finding] = report.findings
    assert finding.rows == (3, 4, 8, 12)  # 7, 5, 9, 8 are below 10


def test_planted_cpr_in_text_and_without_dash(tmp_path: Path) -> None:
    df = clean_table().with_columns(
        pl.Series("note", ["ok"] * 12).scatter(1, f"see {CPR} here"),
        pl.Series("ref", ["A1"] * 12).scatter(6, CPR_NO_DASH),
    )
    path = write(df, tmp_path / "r.csv")
    report = check_output(path)
    by_column = {f.column: f for f in report.findings}
    assert set(by_column) == {"note", "ref"}
    assert by_column["note"].kind == "identifier" and by_column["note"].rows == (2,)
    assert by_column["ref"].rows == (7,)
    text = report.render()
    assert CPR not in text and CPR_NO_DASH not in text and "010190" not in text


def test_invalid_date_is_not_a_cpr(tmp_path: Path) -> None:
    df = clean_table().with_columns(pl.lit("ref 3213901234").alias("note"))  # month 13
    assert check_output(write(df, tmp_path / "r.csv")).ok


def test_planted_person_key_column(tmp_path: Path) -> None:
    keys = [hashlib.sha256(f"p{i}".encode()).hexdigest() for i in range(12)]
    df = clean_table().with_columns(pl.Series("person_key", keys))
    report = check_output(write(df, tmp_path / "r.parquet"))
    kinds = {(f.kind, f.column) for f in report.findings}
    assert ("row_level", "person_key") in kinds
    assert ("identifier", "person_key") in kinds
    assert not any("CPR" in f.problem for f in report.findings)  # no CPR runs inside hex keys
    assert all(k not in report.render() for k in keys)
    assert "remove column 'person_key'" in report.render()


def test_row_level_without_key_name(tmp_path: Path) -> None:
    # no aggregate column at all, one pseudonym-shaped token per row
    tokens = [f"P{i:04d}X{hashlib.md5(str(i).encode()).hexdigest()[:10]}" for i in range(30)]
    df = pl.DataFrame({"token": tokens, "sex": ["F", "M", "F"] * 10, "hba1c": [48.0] * 30})
    report = check_output(write(df, tmp_path / "rows.csv"))
    assert [(f.kind, f.column) for f in report.findings] == [("row_level", "token")]

    ids = pl.DataFrame({"record_id": list(range(100, 130)), "n": [10] * 30})
    report = check_output(write(ids, tmp_path / "ids.parquet"))
    assert [(f.kind, f.column) for f in report.findings] == [("row_level", "record_id")]


def test_phone_and_known_names(tmp_path: Path) -> None:
    df = clean_table().with_columns(
        pl.Series("comment", ["ingen"] * 12)
        .scatter(0, "ring +45 20 30 40 50")
        .scatter(5, "talt med Mette Jensen")
        .scatter(9, "Mettesen")  # not a whole-word match
    )
    report = check_output(write(df, tmp_path / "r.csv"), known_names=["Mette", "Jensen"])
    problems = {(f.problem.split()[0], f.rows) for f in report.findings}
    assert problems == {("phone-number-shaped", (1,)), ("known", (6,))}
    assert "Mette" not in report.render() and "20 30" not in report.render()


def test_direct_identifier_column_name(tmp_path: Path) -> None:
    df = clean_table().with_columns(pl.lit("x").alias("navn"))
    report = check_output(write(df, tmp_path / "r.csv"))
    assert [(f.kind, f.column) for f in report.findings] == [("identifier", "navn")]


def test_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        check_output(tmp_path / "missing.csv")
    (tmp_path / "r.xlsx").write_bytes(b"x")
    with pytest.raises(UserError, match="unsupported file type"):
        check_output(tmp_path / "r.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(UserError, match="could not read"):
        check_output(tmp_path / "bad.parquet")


def test_iso_dates_are_not_phone_numbers(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text("period,antal\n2021-01-01,40\n2021-07-01,55\n", encoding="utf-8")
    report = check_output(path)
    assert report.ok, report.render()
