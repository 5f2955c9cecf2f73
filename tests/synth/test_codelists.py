"""The code lists have the promised sizes and real anchor codes."""

from __future__ import annotations

import polars as pl
import pytest

from regionlab import codelists
from regionlab.errors import UserError

MUNICIPALITIES = {
    "420": "Assens", "530": "Billund", "561": "Esbjerg", "563": "Fanø", "607": "Fredericia",
    "430": "Faaborg-Midtfyn", "510": "Haderslev", "440": "Kerteminde", "621": "Kolding",
    "482": "Langeland", "410": "Middelfart", "480": "Nordfyns", "450": "Nyborg",
    "461": "Odense", "479": "Svendborg", "540": "Sønderborg", "550": "Tønder", "573": "Varde",
    "575": "Vejen", "630": "Vejle", "492": "Ærø", "580": "Aabenraa",
}  # fmt: skip


def test_sizes() -> None:
    assert len(codelists.codes("sks_diagnoses")) >= 100
    assert len(codelists.codes("sks_procedures")) >= 20
    assert len(codelists.codes("npu")) >= 30
    assert len(codelists.codes("atc")) >= 50
    names = codelists.load("names")
    for kind in ("first_male", "first_female", "last"):
        assert names.filter(pl.col("kind") == kind).height >= 100


def test_columns_follow_the_contract() -> None:
    assert codelists.load("sks_diagnoses").columns == ["code", "text_da", "chapter"]
    assert codelists.load("sks_procedures").columns == ["code", "text_da"]
    assert codelists.load("npu").columns == [
        "code", "name_da", "unit", "reference_low", "reference_high"
    ]  # fmt: skip
    assert codelists.load("atc").columns == ["code", "name_da", "strength"]
    assert codelists.load("municipalities").columns == ["code", "name", "region"]
    assert codelists.load("postcodes").columns == ["postcode", "municipality_code"]
    assert codelists.load("departments").columns == [
        "hospital_code", "hospital_name", "department_code", "department_name", "specialty"
    ]  # fmt: skip
    assert codelists.load("names").columns == ["kind", "name"]


def test_the_22_municipalities_with_their_codes() -> None:
    frame = codelists.load("municipalities")
    assert dict(zip(frame["code"], frame["name"], strict=True)) == MUNICIPALITIES
    post = codelists.load("postcodes")
    assert set(post["municipality_code"]) == set(MUNICIPALITIES)
    mapping = dict(zip(post["postcode"], post["municipality_code"], strict=True))
    assert mapping["5000"] == "461" and mapping["6700"] == "561" and mapping["7100"] == "630"
    assert post["postcode"].str.contains(r"^\d{4}$").all()


def test_anchor_codes() -> None:
    npu = codelists.load("npu").filter(pl.col("code") == "NPU27300").row(0, named=True)
    assert npu["unit"] == "mmol/mol" and npu["reference_high"] == 42.0
    dia = dict(zip(*codelists.load("sks_diagnoses")[["code", "text_da"]], strict=True))
    assert dia["DE119"] == "Type 2-diabetes uden komplikationer"
    for code in ("DE109", "DI10", "DI219", "DI48", "DJ449", "DJ189", "DC509", "DF329", "DN184"):
        assert code in dia
    assert {"A10BA02", "A10BJ02", "A10BK01", "C09AA05", "R03AC02", "N06AB04"} <= codelists.codes(
        "atc"
    )
    deps = codelists.load("departments")
    assert "Odense Universitetshospital" in set(deps["hospital_name"])
    assert deps["department_code"].n_unique() == deps.height


def test_unknown_list_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown code list"):
        codelists.load("icd11")
    with pytest.raises(UserError, match="unknown code list"):
        codelists.records("icd11")


@pytest.mark.parametrize("name", codelists.names())
def test_records_read_without_polars_equal_the_frame(name: str) -> None:
    """The client path reads the lists with the csv module: the same rows and codes."""
    from importlib import resources

    path = resources.files(codelists) / f"{name}.csv"
    frame = pl.read_csv(path.read_bytes(), infer_schema=False).fill_null("")  # as load() reads
    assert list(codelists.records(name)) == frame.to_dicts()
    assert codelists.codes(name) == frozenset(frame[codelists.KEY_COLUMNS[name]].to_list())
