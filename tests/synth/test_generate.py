"""The generated extracts: layout, determinism, coherence and the labelled defects."""

from __future__ import annotations

import hashlib
import importlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from regionlab import codelists
from regionlab.errors import UserError
from regionlab.privacy.identifiers import cpr_birth_date as birth_date
from regionlab.privacy.identifiers import passes_modulus11 as mod11
from regionlab.synth import generate
from regionlab.synth.defects import DEFECT_TYPES, UNKNOWN_CODES

from .conftest import AS_OF, labels, parse_csv_line, read_lines

EXPECTED_COLUMNS = {
    "cpr/persons": ["cpr", "first_name", "last_name", "birth_date", "sex", "address",
                    "postcode", "municipality_code", "phone", "death_date"],
    "lpr3/diagnoses": ["diagnosis_id", "contact_id", "cpr", "diagnosis_code", "diagnosis_type",
                       "registered_at"],
    "lpr3/procedures": ["procedure_id", "contact_id", "cpr", "procedure_code", "performed_at"],
    "labka/lab_results": ["sample_id", "cpr", "npu_code", "analysis_name", "value", "unit",
                          "reference_low", "reference_high", "sampled_at", "department_code"],
    "fmk/prescriptions": ["prescription_id", "cpr", "atc_code", "drug_name", "strength",
                          "start_date", "end_date"],
    "initiativer/initiatives": ["initiative_id", "name", "kind", "phase", "owner", "department",
                                "ai_act_risk", "products", "started", "description"],
}  # fmt: skip
# the module, not the function the package re-exports under the same name
generate_module = importlib.import_module("regionlab.synth.generate")
CODE_COLUMNS = {
    "diagnoses": ("diagnosis_code", "sks_diagnoses"),
    "procedures": ("procedure_code", "sks_procedures"),
    "lab_results": ("npu_code", "npu"),
    "prescriptions": ("atc_code", "atc"),
}
DATE_COLUMNS = {
    "contacts": "start_time",
    "diagnoses": "registered_at",
    "procedures": "performed_at",
    "lab_results": "sampled_at",
    "prescriptions": "start_date",
    "notes": "written_at",
    "persons": "death_date",
}


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(path: Path) -> list[dict]:
    """Well-formed rows of a CSV/JSONL/Parquet extract, with their 1-based line numbers."""
    if path.suffix == ".parquet":
        table = pq.read_table(path).to_pylist()
        return [dict(r, _line=i + 1) for i, r in enumerate(table)]
    lines = read_lines(path)
    if path.suffix == ".jsonl":
        out = []
        for i, line in enumerate(lines):
            try:
                out.append(dict(json.loads(line), _line=i + 1))
            except json.JSONDecodeError:
                continue
        return out
    header = parse_csv_line(lines[0])
    out = []
    for i, line in enumerate(lines[1:], start=2):
        fields = parse_csv_line(line)
        if len(fields) == len(header):
            out.append(dict(zip(header, fields, strict=True), _line=i))
    return out


def _files(root: Path, extract: str) -> list[Path]:
    return sorted(root.glob(f"*/{extract}/{extract}_*.*"))


def _as_date(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def test_layout_and_manifest(sources: tuple[Path, object]) -> None:
    root, manifest = sources
    dates = ["2026-09-02", "2026-10-02", "2026-11-01"]
    for extract, fmt in [("contacts", "parquet"), ("diagnoses", "csv"), ("notes", "jsonl")]:
        names = [p.name for p in _files(root, extract)]
        assert names == [f"{extract}_{d}.{fmt}" for d in dates]
    assert [p.name for p in _files(root, "persons")] == ["persons_2026-11-01.csv"]
    for key, columns in EXPECTED_COLUMNS.items():
        for path in root.glob(f"{key}/*.csv"):
            assert parse_csv_line(read_lines(path)[0]) == columns, path
    contacts = pq.read_table(_files(root, "contacts")[0])
    assert contacts.column_names == [
        "contact_id", "cpr", "hospital_code", "department_code", "contact_type", "priority",
        "start_time", "end_time",
    ]  # fmt: skip
    assert str(contacts.schema.field("start_time").type) == "timestamp[us]"
    saved = json.loads((root / "manifest.json").read_text())
    assert saved["seed"] == 7 and saved["persons"] == 3000 and saved["as_of"] == "2026-11-01"
    for entry in manifest.files:  # row counts in the manifest are the real ones
        path = root / entry.path
        if path.suffix == ".parquet":
            assert pq.read_metadata(path).num_rows == entry.rows
        elif path.suffix == ".jsonl":
            assert len(read_lines(path)) == entry.rows
        else:
            assert len(read_lines(path)) - 1 == entry.rows


def test_deliveries_split_by_event_date(sources: tuple[Path, object]) -> None:
    root, _ = sources
    first, second, last = _files(root, "diagnoses")
    cut1, cut2 = AS_OF - timedelta(days=60), AS_OF - timedelta(days=30)
    assert all(_as_date(r["registered_at"]) <= cut1 for r in _rows(first))
    assert all(cut1 < _as_date(r["registered_at"]) <= cut2 for r in _rows(second))
    assert all(_as_date(r["registered_at"]) > cut2 for r in _rows(last))
    assert len(_rows(first)) > 10 * len(_rows(last))  # years versus weeks


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, persons=400, seed=3, defect_rate=0.05)
    generate(b, persons=400, seed=3, defect_rate=0.05)
    generate(c, persons=400, seed=4, defect_rate=0.05)
    assert _digest(a) == _digest(b)
    da, dc = _digest(a), _digest(c)
    assert da.keys() == dc.keys()
    assert da["cpr/persons/persons_2026-11-01.csv"] != dc["cpr/persons/persons_2026-11-01.csv"]
    # the initiatives register is fixed content, the rest depends on the seed
    assert sum(da[k] != dc[k] for k in da) >= len(da) - 2


def test_chunk_size_does_not_change_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate_module, "BLOCK", 300)  # several blocks at a small scale
    calls: dict[str, list[int]] = {"one": [], "many": []}
    generate(tmp_path / "one", persons=1000, seed=5, chunk_size=10_000,
             progress=lambda d, t: calls["one"].append(d))  # fmt: skip
    generate(tmp_path / "many", persons=1000, seed=5, chunk_size=300,
             progress=lambda d, t: calls["many"].append(d))  # fmt: skip
    assert calls["one"] == [1000] and calls["many"] == [300, 600, 900, 1000]
    assert _digest(tmp_path / "one") == _digest(tmp_path / "many")
    contacts = pq.ParquetFile(_files(tmp_path / "one", "contacts")[0])
    assert contacts.metadata.num_row_groups == 4  # one row group per block


def test_register_cprs_are_valid_unique_and_match_birth_and_sex(sources) -> None:
    root, _ = sources
    bad = set(labels(root).filter(pl.col("defect") == "invalid_cpr")["record_id"])
    rows = [r for r in _rows(_files(root, "persons")[0]) if r["cpr"] not in bad]
    assert len(rows) > 2800
    cprs = [r["cpr"] for r in rows]
    modern = 0
    for r in rows:
        born = birth_date(r["cpr"])
        assert born is not None and born.isoformat() == r["birth_date"], r["birth_date"]
        assert (int(r["cpr"][-1]) % 2 == 1) == (r["sex"] == "M")
        if born < date(2007, 10, 1):
            assert mod11(r["cpr"])
        else:
            modern += 1
            assert not mod11(r["cpr"])  # issued without modulus 11, on purpose
        assert r["municipality_code"] in codelists.codes("municipalities")
        assert r["postcode"] in codelists.codes("postcodes")
    assert modern > 100
    dup = set(labels(root).filter(pl.col("defect") == "duplicate_row")["record_id"])
    assert len([c for c in cprs if c not in dup]) == len({c for c in cprs if c not in dup})
    phones = [r["phone"] for r in rows if r["phone"]]
    assert all(p.replace(" ", "").isdigit() and len(p.replace(" ", "")) == 8 for p in phones)
    assert any(" " in p for p in phones) and any(" " not in p for p in phones)
    dead = [r for r in rows if r["death_date"] and _as_date(r["death_date"]) <= AS_OF]
    assert 50 < len(dead) < 600


def test_events_use_register_cprs_and_stay_before_death(sources) -> None:
    root, _ = sources
    lab = labels(root)
    register = _files(root, "persons")[0]
    persons = {r["cpr"]: r for r in _rows(register)}
    # a malformed register line still starts with the person's CPR
    broken = {parse_csv_line(line)[0] for line in read_lines(register)[1:]} - set(persons)
    for extract, date_col in DATE_COLUMNS.items():
        if extract == "persons":
            continue
        for path in _files(root, extract):
            rel = path.relative_to(root).as_posix()
            flagged = set(
                lab.filter((pl.col("file") == rel) & pl.col("defect").is_in(
                    ["invalid_cpr", "future_date"]))["record_id"]
            )  # fmt: skip
            id_col = next(iter(_rows(path)[0])) if _rows(path) else None
            for r in _rows(path):
                if r[id_col] in flagged or r["cpr"] in broken:
                    continue
                person = persons.get(r["cpr"])
                assert person is not None, f"{rel}: event of a person not in the register"
                when = _as_date(r[date_col])
                assert when <= AS_OF
                if person["death_date"]:
                    assert when <= _as_date(person["death_date"]), rel


def test_every_defect_type_is_present_and_true(sources) -> None:
    root, _ = sources
    lab = labels(root)
    assert set(lab["defect"]) == set(DEFECT_TYPES)
    checked = dict.fromkeys(DEFECT_TYPES, 0)
    for rel, group in lab.group_by("file", maintain_order=True):
        path = root / rel[0]
        extract = path.parent.name
        rows = _rows(path)
        id_col = next(iter(rows[0]))
        by_id: dict[str, list[dict]] = {}
        for r in rows:
            by_id.setdefault(str(r[id_col]), []).append(r)
        lines = read_lines(path) if path.suffix != ".parquet" else []
        for record_id, defect in group.select("record_id", "defect").iter_rows():
            checked[defect] += 1
            if defect == "malformed_line":
                line = lines[int(record_id.removeprefix("line:")) - 1]
                if path.suffix == ".jsonl":
                    with pytest.raises(json.JSONDecodeError):
                        json.loads(line)
                else:
                    assert len(parse_csv_line(line)) != len(parse_csv_line(lines[0]))
                continue
            matches = by_id[record_id]
            row = matches[-1]
            if defect == "duplicate_row":
                assert len(matches) >= 2
                strip = [{k: v for k, v in m.items() if k != "_line"} for m in matches]
                assert strip[0] == strip[-1]
            elif defect == "invalid_cpr":
                assert birth_date(row["cpr"]) is None
            elif defect == "end_before_start":
                start, end = ("start_time", "end_time") if extract == "contacts" else (
                    "start_date", "end_date")  # fmt: skip
                assert str(row[end]) < str(row[start])
            elif defect == "unknown_code":
                col, code_list = CODE_COLUMNS[extract]
                assert row[col] not in codelists.codes(code_list)
            elif defect == "future_date":
                assert _as_date(row[DATE_COLUMNS[extract]]) > AS_OF
    assert all(n > 0 for n in checked.values()), checked


def test_defect_rate_is_roughly_honoured(sources) -> None:
    root, manifest = sources
    lab = labels(root)
    for extract in ("diagnoses", "lab_results", "prescriptions", "procedures"):
        rows = sum(e.rows for e in manifest.files if f"/{extract}/" in e.path)
        n = lab.filter(pl.col("file").str.contains(f"/{extract}/")).height
        assert 0.03 < n / rows < 0.07, (extract, n / rows)  # asked for 0.05


def test_unknown_codes_are_really_unknown() -> None:
    for code_list, values in UNKNOWN_CODES.items():
        assert not set(values) & codelists.codes(code_list)


def test_cohorts_are_coherent(sources) -> None:
    root, _ = sources
    diag = pl.concat([pl.read_csv(p, infer_schema=False, truncate_ragged_lines=True)
                      for p in _files(root, "diagnoses")], how="vertical")  # fmt: skip
    lab_labels = set(labels(root)["record_id"])
    t2d = set(diag.filter(pl.col("diagnosis_code").str.starts_with("DE11"))["cpr"])
    t1d = set(diag.filter(pl.col("diagnosis_code").str.starts_with("DE10"))["cpr"])
    assert len(t2d) > 30
    hba1c = [
        r for p in _files(root, "lab_results") for r in _rows(p)
        if r["npu_code"] == "NPU27300" and r["sample_id"] not in lab_labels
    ]  # fmt: skip
    diabetic = [float(r["value"]) for r in hba1c if r["cpr"] in t2d | t1d]
    others = [float(r["value"]) for r in hba1c if r["cpr"] not in t2d | t1d]
    assert diabetic and min(diabetic) > 48
    assert not others or max(others) <= 48
    drugs = [r for p in _files(root, "prescriptions") for r in _rows(p) if r["cpr"] in t2d]
    glucose_lowering = {r["cpr"] for r in drugs if r["atc_code"].startswith("A10")}
    assert len(glucose_lowering) > 0.7 * len(t2d)
    copd = set(diag.filter(pl.col("diagnosis_code").str.starts_with("DJ44"))["cpr"])
    salbutamol = {
        r["cpr"] for p in _files(root, "prescriptions") for r in _rows(p)
        if r["atc_code"] == "R03AC02"
    }  # fmt: skip
    assert len(copd & salbutamol) > 0.6 * len(copd)


def test_notes_embed_name_cpr_and_phone(sources) -> None:
    root, _ = sources
    persons = {r["cpr"]: r for r in _rows(_files(root, "persons")[0])}
    notes = [r for p in _files(root, "notes") for r in _rows(p) if r["cpr"] in persons]
    assert len(notes) > 500
    dashless = with_phone = 0
    for note in notes:
        person = persons[note["cpr"]]
        text = note["text"]
        assert f"{person['first_name']} {person['last_name']}" in text or person[
            "first_name"] in text  # fmt: skip
        assert note["cpr"] in text or note["cpr"].replace("-", "") in text
        dashless += note["cpr"] not in text
        with_phone += bool(person["phone"]) and person["phone"] in text
        assert note["note_type"] in {"indlæggelsesnotat", "ambulant notat", "epikrise",
                                     "sygeplejenotat"}  # fmt: skip
    assert dashless > 0.2 * len(notes) and with_phone > 0.1 * len(notes)


def test_initiatives_register(sources) -> None:
    root, _ = sources
    rows = _rows(_files(root, "initiatives")[0])
    assert 25 <= len(rows) <= 35
    assert {r["phase"] for r in rows} == {"idé", "afprøvning", "implementering", "drift"}
    assert {r["kind"] for r in rows} == {"AI", "RPA"}
    assert {r["ai_act_risk"] for r in rows} <= {"minimal", "begrænset", "høj", "ikke relevant"}
    allowed = {
        "population/persons", "patient_administration/contacts", "diagnoses/diagnoses",
        "diagnoses/procedures", "laboratory/lab_results", "medication/prescriptions",
        "clinical_notes/notes", "initiatives/initiatives", "research/t2d_cohort",
        "research/monthly_activity", "research/readmissions_30d",
    }  # fmt: skip
    for r in rows:
        assert set(r["products"].split(";")) <= allowed
        assert date.fromisoformat(r["started"]) <= AS_OF
    assert [r["initiative_id"] for r in rows][:2] == ["INI-001", "INI-002"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"persons": -1}, "persons"), ({"persons": 10, "defect_rate": 0.7}, "defect rate"),
     ({"persons": 10, "deliveries": 0}, "deliveries")],
)  # fmt: skip
def test_bad_arguments_are_user_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        generate(tmp_path, **kwargs)


def test_regenerating_removes_only_the_files_synthesis_owns(tmp_path: Path) -> None:
    """Issue 14: `make demo` deleted a steward's own files under var/sources/."""
    out = tmp_path / "sources"
    first = generate(out, persons=200, seed=3, deliveries=4)
    owned = {out / f.path for f in first.files}
    assert all(p.is_file() for p in owned)
    steward = [
        out / "labka" / "microbiology" / "microbiology_2026-10-01.csv",  # a new extract
        out / "labka" / "lab_results" / "README.txt",  # beside synthetic extracts
        out / "my_notes.md",
    ]
    for path in steward:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("steward's file\n", encoding="utf-8")

    second = generate(out, persons=200, seed=3, deliveries=3)
    for path in steward:
        assert path.read_text(encoding="utf-8") == "steward's file\n", path
    now = {out / f.path for f in second.files}
    # the fourth delivery of the first run was synthesis's own: it is gone
    assert {p for p in owned - now if p.exists()} == set()
    assert all(p.is_file() for p in now)
    listed = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert {out / f["path"] for f in listed} == now
    assert out / "defects.csv" in now


def test_every_date_after_the_extract_is_a_labelled_defect(sources) -> None:
    """Rows dated after ``as_of`` (death dates included) exist only as labelled
    ``future_date`` defects, so the catalogue may cap coverage at the extract date."""
    root, _ = sources
    lab = labels(root)
    seen = 0
    for extract, date_col in DATE_COLUMNS.items():
        for path in _files(root, extract):
            rel = path.relative_to(root).as_posix()
            flagged = set(
                lab.filter((pl.col("file") == rel) & (pl.col("defect") == "future_date"))[
                    "record_id"
                ]
            )
            rows = _rows(path)
            id_col = next(iter(rows[0])) if rows else None
            for r in rows:
                when = _as_date(r[date_col])
                if when is not None and when > AS_OF:
                    seen += 1
                    assert r[id_col] in flagged, (rel, r["_line"])
    assert seen > 0
