"""A tiny hand-built lake with known answers for the research tests.

Person keys look like real ones (64 hex) so the leak checks are meaningful.
The cohort ``t2d_vejle`` of ``VEJLE_COHORT`` selects exactly p01, p02, p03;
the comments on each person say why the others are out.
"""

from __future__ import annotations

import hashlib
from datetime import date

from regionlab import lake

INDEX = date(2026, 11, 1)


def pk(name: str) -> str:
    """The (source) person key of a named test person."""
    return hashlib.sha256(f"test-person-{name}".encode()).hexdigest()


# name, age_band, sex, municipality, death_month
PERSONS = [
    ("p01", "50-54", "K", "630", None),  # in
    ("p02", "55-59", "M", "630", None),  # in (HbA1c 54 on the index day)
    ("p03", "65-69", "K", "630", None),  # in (HbA1c 58 on the window's first day)
    ("p04", "70-74", "M", "630", None),  # out: band 70-74 is not wholly inside 50-70
    ("p05", "45-49", "K", "630", None),  # out: too young
    ("p06", "60-64", "M", "461", None),  # out: lives in Odense
    ("p07", "60-64", "K", "630", "2026-03-01"),  # out: died before the index date
    ("p08", "50-54", "M", "630", None),  # out: no diagnosis
    ("p09", "60-64", "K", "630", None),  # out: HbA1c 50
    ("p10", "60-64", "M", "630", None),  # out: high HbA1c only two years ago
    ("p11", "55-59", "K", "630", None),  # out: GLP-1 (A10BJ) this year
    ("p12", "50-54", "K", "630", None),  # out: type 1 diabetes (DE10)
]

# person, code, type, registered_at
DIAGNOSES = [
    ("p01", "DE119", "A", "2020-01-01 10:00:00"),
    ("p02", "DE110", "B", "2021-01-01 10:00:00"),
    ("p03", "DE119", "A", "2019-05-05 10:00:00"),
    ("p04", "DE119", "A", "2018-01-01 10:00:00"),
    ("p05", "DE119", "A", "2018-01-01 10:00:00"),
    ("p06", "DE119", "A", "2018-01-01 10:00:00"),
    ("p07", "DE119", "A", "2018-01-01 10:00:00"),
    ("p09", "DE119", "A", "2018-01-01 10:00:00"),
    ("p10", "DE119", "A", "2018-01-01 10:00:00"),
    ("p11", "DE119", "A", "2018-01-01 10:00:00"),
    ("p12", "DE109", "A", "2018-01-01 10:00:00"),
    ("p08", "DI109", "A", "2022-02-02 10:00:00"),
]

# person, npu, value, sampled_at
LABS = [
    ("p01", "NPU27300", 60.0, "2026-05-01 08:00:00"),
    ("p02", "NPU27300", 54.0, "2026-11-01 09:30:00"),
    ("p02", "NPU02192", 10.0, "2026-05-01 08:00:00"),
    ("p03", "NPU27300", 53.0, "2026-06-01 08:00:00"),
    ("p03", "NPU27300", 58.0, "2025-11-01 00:00:00"),
    ("p04", "NPU27300", 70.0, "2026-01-01 08:00:00"),
    ("p05", "NPU27300", 70.0, "2026-01-01 08:00:00"),
    ("p06", "NPU27300", 70.0, "2026-01-01 08:00:00"),
    ("p07", "NPU27300", 70.0, "2026-01-01 08:00:00"),
    ("p09", "NPU27300", 50.0, "2026-01-01 08:00:00"),
    ("p10", "NPU27300", 60.0, "2024-06-01 08:00:00"),
    ("p11", "NPU27300", 70.0, "2026-01-01 08:00:00"),
    ("p12", "NPU27300", 80.0, "2026-01-01 08:00:00"),
]

# person, atc, start, end
PRESCRIPTIONS = [
    ("p11", "A10BJ02", "2026-01-01", None),
    ("p01", "A10BA02", "2025-01-01", "2026-12-31"),
    ("p03", "A10BJ06", "2020-01-01", "2021-01-01"),
]

# person, procedure code, performed_at
PROCEDURES = [
    ("p01", "BJFD0", "2026-02-02 10:00:00"),
    ("p06", "BJFD0", "2026-02-02 10:00:00"),
]

VEJLE_COHORT = {
    "name": "t2d_vejle",
    "index_date": INDEX.isoformat(),
    "age": {"min": 50, "max": 70},
    "municipality": ["Vejle"],
    "alive_at_index": True,
    "include": [
        {"kind": "diagnosis", "codes": ["DE11"]},
        {"kind": "lab", "npu": "NPU27300", "above": 53, "within": {"from": "-365d", "to": "0d"}},
    ],
    "exclude": [{"kind": "medication", "atc": ["A10BJ"], "within": {"from": "-1y", "to": "0d"}}],
}
VEJLE_MEMBERS = {"p01", "p02", "p03"}


def _s(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float | int):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _values(rows: list[tuple[object, ...]]) -> str:
    return ", ".join("(" + ", ".join(_s(v) for v in row) + ")" for row in rows)


def persons_sql(persons: list[tuple[object, ...]] = PERSONS) -> str:
    rows = [(pk(n), band, sex, muni, muni, death) for n, band, sex, muni, death in persons]
    return (
        "SELECT person_key, age_band, sex, residence_municipality, municipality_code, "
        f"CAST(death_month AS DATE) AS death_month FROM (VALUES {_values(rows)}) "
        "t(person_key, age_band, sex, residence_municipality, municipality_code, death_month)"
    )


def labs_sql(labs: list[tuple[object, ...]] = LABS, start: int = 0) -> str:
    rows = [
        (f"S{start + i:05d}", pk(n), code, value, "mmol/mol", 20.0, 42.0, at, "D1")
        for i, (n, code, value, at) in enumerate(labs)
    ]
    return (
        "SELECT sample_id, person_key, npu_code, CAST(value AS DOUBLE) AS value, unit, "
        "CAST(reference_low AS DOUBLE) AS reference_low, "
        "CAST(reference_high AS DOUBLE) AS reference_high, "
        "CAST(sampled_at AS TIMESTAMP) AS sampled_at, department_code "
        f"FROM (VALUES {_values(rows)}) t(sample_id, person_key, npu_code, value, unit, "
        "reference_low, reference_high, sampled_at, department_code)"
    )


def build_lake() -> int:
    """Publish the hand-built products into the lake of the current ``REGIONLAB_VAR``."""
    con = lake.connect()
    try:
        lake.publish(con, "population", "persons", persons_sql())
        diag_rows = [
            (f"D{i:04d}", f"C{i:04d}", pk(n), code, typ, at)
            for i, (n, code, typ, at) in enumerate(DIAGNOSES)
        ]
        lake.publish(
            con,
            "diagnoses",
            "diagnoses",
            "SELECT diagnosis_id, contact_id, person_key, diagnosis_code, diagnosis_type, "
            "CAST(registered_at AS TIMESTAMP) AS registered_at "
            f"FROM (VALUES {_values(diag_rows)}) t(diagnosis_id, contact_id, person_key, "
            "diagnosis_code, diagnosis_type, registered_at)",
        )
        proc_rows = [
            (f"P{i:04d}", f"C9{i:03d}", pk(n), code, at)
            for i, (n, code, at) in enumerate(PROCEDURES)
        ]
        lake.publish(
            con,
            "diagnoses",
            "procedures",
            "SELECT procedure_id, contact_id, person_key, procedure_code, "
            "CAST(performed_at AS TIMESTAMP) AS performed_at "
            f"FROM (VALUES {_values(proc_rows)}) t(procedure_id, contact_id, person_key, "
            "procedure_code, performed_at)",
        )
        lake.publish(con, "laboratory", "lab_results", labs_sql())
        rx_rows = [
            (f"R{i:04d}", pk(n), atc, "drug", "1 mg", start, end)
            for i, (n, atc, start, end) in enumerate(PRESCRIPTIONS)
        ]
        return lake.publish(
            con,
            "medication",
            "prescriptions",
            "SELECT prescription_id, person_key, atc_code, drug_name, strength, "
            "CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date "
            f"FROM (VALUES {_values(rx_rows)}) t(prescription_id, person_key, atc_code, "
            "drug_name, strength, start_date, end_date)",
        )
    finally:
        con.close()


def build_population_lake(n: int = 400) -> int:
    """A larger lake for stratified counts: person i's attributes follow fixed rules.

    The rules mix so that cells differ in size and some are small: Odense (461)
    is rare and Middelfart (410) has three T2D members. Diagnosis DE119 for i % 3 != 0.
    """
    persons = [(f"q{i:04d}", *_attributes(i), None) for i in range(n)]
    diag_rows = [
        (f"D{i:05d}", f"C{i:05d}", pk(f"q{i:04d}"), "DE119", "A", "2020-01-01 00:00:00")
        for i in range(n)
        if i % 3 != 0
    ]
    con = lake.connect()
    try:
        lake.publish(con, "population", "persons", persons_sql(persons))
        return lake.publish(
            con,
            "diagnoses",
            "diagnoses",
            "SELECT diagnosis_id, contact_id, person_key, diagnosis_code, diagnosis_type, "
            "CAST(registered_at AS TIMESTAMP) AS registered_at "
            f"FROM (VALUES {_values(diag_rows)}) t(diagnosis_id, contact_id, person_key, "
            "diagnosis_code, diagnosis_type, registered_at)",
        )
    finally:
        con.close()


def population_expected(n: int = 400) -> list[dict[str, object]]:
    """Person attributes of the T2D members of :func:`build_population_lake`."""
    out = []
    for i in range(n):
        if i % 3 != 0:
            band, sex, muni = _attributes(i)
            out.append({"key": pk(f"q{i:04d}"), "sex": sex, "age_band": band, "municipality": muni})
    return out


def _attributes(i: int) -> tuple[str, str, str]:
    bands = ["50-54", "55-59", "60-64", "65-69", "70-74", "75-79"]
    band = bands[(i * 5 + i // 7) % 6]
    muni = "410" if i % 97 == 5 else "461" if i % 13 == 0 else "630"
    return band, "K" if i % 2 else "M", muni
