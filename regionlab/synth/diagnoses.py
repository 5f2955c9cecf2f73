"""Diagnoses (SKS D-codes) and procedures (SKS K/B/U/Z-codes) attached to contacts.

The action diagnosis follows the contact's reason: a chronic contact carries its
condition's code, a general contact a code typical of its specialty. Known chronic
conditions come along as secondary diagnoses now and then, as in real LPR data.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from regionlab.synth.cohorts import CONDITIONS
from regionlab.synth.contacts import SPECIALTIES

# A-diagnoses of contacts without a chronic reason, by specialty.
GENERAL_DIAGNOSES: dict[str, tuple[str, ...]] = {
    "akutmodtagelse": ("DR074", "DR104", "DR509", "DR55", "DR42", "DS060", "DS010", "DS934",
                       "DJ069", "DN390", "DA099", "DZ039", "DZ038", "DU071", "DJ189"),
    "ortopædkirurgi": ("DS720", "DS721", "DS525", "DS422", "DS826", "DM170", "DM171", "DM160",
                       "DM161", "DM545"),
    "intern medicin": ("DJ189", "DJ159", "DA419", "DN390", "DD649", "DE871", "DE876", "DE860",
                       "DN179", "DI269", "DI802", "DR060"),
    "kirurgi": ("DK359", "DK802", "DK810", "DK409", "DK859", "DK297", "DK219", "DT814"),
}  # fmt: skip

# Chance per contact of each procedure, by specialty.
PROCEDURES: dict[str, tuple[tuple[str, float], ...]] = {
    "akutmodtagelse": (("ZZ0149", 0.5), ("ZZ0181", 0.3), ("UXRC00", 0.2), ("UXCA00", 0.1)),
    "ortopædkirurgi": (("KNFB20", 0.08), ("KNFB40", 0.05), ("KNGB20", 0.08), ("KNFJ51", 0.1),
                       ("KNCJ65", 0.1), ("UXRC00", 0.1)),
    "intern medicin": (("UXRC00", 0.3), ("ZZ0181", 0.3), ("BWAA60", 0.3), ("BOQF1", 0.05)),
    "kirurgi": (("KJEA01", 0.15), ("KJKA21", 0.15), ("UXCD00", 0.2), ("KJFB20", 0.02)),
    "endokrinologi": (("ZZ0149", 0.5), ("BVAA33A", 0.3)),
    "kardiologi": (("ZZ0181", 0.6), ("UXUC80", 0.3), ("KFNG02", 0.04), ("KFNG05", 0.02),
                   ("BFCA0", 0.05), ("ZZ0149", 0.3)),
    "lungemedicin": (("ZZ4020", 0.5), ("UXRC00", 0.3), ("BGDA0", 0.02)),
    "onkologi": (("BWHA1", 0.5), ("UXCD00", 0.2), ("KHAC10", 0.03), ("KKEC00", 0.03),
                 ("BOQF1", 0.05)),
    "psykiatri": (("BRSP1", 0.6), ("AAF6", 0.3)),
    "nefrologi": (("BJFD0", 0.2), ("ZZ0149", 0.4)),
}  # fmt: skip

_MINUTE = np.timedelta64(60, "s")


def _ids(prefix: str, first: int, n: int, width: int = 9) -> pl.Series:
    if n == 0:
        return pl.Series([], dtype=pl.Utf8)
    return prefix + pl.int_range(first, first + n, eager=True).cast(pl.Utf8).str.zfill(width)


def _weighted_pick(
    rng: np.random.Generator, groups: np.ndarray, tables: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """For each row, draw a code from its group's (codes, weights) table."""
    out = np.empty(groups.size, dtype=object)
    u = rng.random(groups.size)
    for g, (codes, weights) in enumerate(tables):
        rows = groups == g
        if rows.any():
            cum = np.cumsum(weights) / weights.sum()
            out[rows] = codes[np.minimum(np.searchsorted(cum, u[rows]), codes.size - 1)]
    return out


def generate_diagnoses(
    contacts: pl.DataFrame, has: np.ndarray, rng: np.random.Generator, first_id: int
) -> pl.DataFrame:
    """One A-diagnosis per contact plus B-diagnoses for the person's other conditions."""
    m = contacts.height
    reason = contacts["reason"].to_numpy()
    spec = contacts["specialty_idx"].to_numpy()
    start = contacts["start_time"].to_numpy().astype("datetime64[s]")

    # group 0..k-1: conditions; k..: general specialties
    general_specs = list(GENERAL_DIAGNOSES)
    group = np.where(reason >= 0, reason, 0)
    general_rows = reason < 0
    spec_to_general = np.array(
        [general_specs.index(s) if s in GENERAL_DIAGNOSES else 0 for s in SPECIALTIES]
    )
    group = np.where(general_rows, len(CONDITIONS) + spec_to_general[spec], group)
    tables = [
        (np.array([c for c, _ in cond.diagnoses]), np.array([w for _, w in cond.diagnoses]))
        for cond in CONDITIONS
    ] + [(np.array(codes), np.ones(len(codes))) for codes in GENERAL_DIAGNOSES.values()]
    a_codes = _weighted_pick(rng, group, tables)
    a_time = start + rng.integers(0, 31, m) * _MINUTE

    # B: each other known condition with 25 % chance per contact
    person_has = has[contacts["person_idx"].to_numpy()]
    own = np.zeros_like(person_has)
    own[np.arange(m)[reason >= 0], reason[reason >= 0]] = True
    b_mask = person_has & ~own & (rng.random(person_has.shape) < 0.25)
    b_contact, b_cond = np.nonzero(b_mask)
    main_codes = np.array([cond.diagnoses[0][0] for cond in CONDITIONS])

    contact_row = np.concatenate([np.arange(m), b_contact])
    kind = np.concatenate([np.zeros(m, dtype=np.int8), np.ones(b_contact.size, dtype=np.int8)])
    codes = np.concatenate([a_codes.astype(str), main_codes[b_cond]]).astype(str)
    times = np.concatenate([a_time, a_time[b_contact] + _MINUTE])
    order = np.lexsort((kind, contact_row))
    contact_row, kind, codes, times = contact_row[order], kind[order], codes[order], times[order]
    return pl.DataFrame(
        {
            "diagnosis_id": _ids("D", first_id, contact_row.size),
            "contact_id": contacts["contact_id"].gather(contact_row),
            "cpr": contacts["cpr"].gather(contact_row),
            "diagnosis_code": codes,
            "diagnosis_type": np.where(kind == 0, "A", "B"),
            "registered_at": times.astype("datetime64[us]"),
        },
        schema_overrides={"contact_id": pl.Utf8, "cpr": pl.Utf8, "diagnosis_code": pl.Utf8},
    )


def generate_procedures(
    contacts: pl.DataFrame, rng: np.random.Generator, first_id: int
) -> pl.DataFrame:
    """Procedures drawn per contact from its specialty's procedure mix."""
    all_codes = sorted({code for table in PROCEDURES.values() for code, _ in table})
    probs = np.zeros((len(SPECIALTIES), len(all_codes)))
    for s, table in PROCEDURES.items():
        for code, p in table:
            probs[SPECIALTIES.index(s), all_codes.index(code)] = p
    spec = contacts["specialty_idx"].to_numpy()
    mask = rng.random((contacts.height, len(all_codes))) < probs[spec]
    rows, code_idx = np.nonzero(mask)
    start = contacts["start_time"].to_numpy().astype("datetime64[s]")[rows]
    span = np.minimum(contacts["duration_s"].to_numpy()[rows], 4 * 3600)
    offset = (rng.random(rows.size) * span).astype(np.int64) // 60 * 60
    return pl.DataFrame(
        {
            "procedure_id": _ids("P", first_id, rows.size),
            "contact_id": contacts["contact_id"].gather(rows),
            "cpr": contacts["cpr"].gather(rows),
            "procedure_code": np.array(all_codes)[code_idx],
            "performed_at": (start + offset * np.timedelta64(1, "s")).astype("datetime64[us]"),
        },
        schema_overrides={"contact_id": pl.Utf8, "cpr": pl.Utf8, "procedure_code": pl.Utf8},
    )
