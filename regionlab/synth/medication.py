"""FMK prescriptions: long-term drugs of the chronic cohorts plus short acute courses.

Chronic drugs follow the conditions (metformin and GLP-1 for diabetics,
salbutamol for COPD, ...), short courses (antibiotics, analgesics) follow acute
contacts. Dates stay inside the person's window, like every other event.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from regionlab import codelists
from regionlab.synth.cohorts import CONDITIONS
from regionlab.synth.contacts import Windows
from regionlab.synth.diagnoses import _ids

ACUTE_DRUGS = (
    "J01CA04", "J01CE02", "J01CR02", "J01XE01", "J01MA02", "N02BE01", "M01AE01",
    "N02AX02", "A02BC01", "H02AB06",
)  # fmt: skip
_DAY = np.timedelta64(1, "D")


def generate_prescriptions(
    persons: pl.DataFrame,
    has: np.ndarray,
    win: Windows,
    contacts: pl.DataFrame,
    rng: np.random.Generator,
    first_id: int,
) -> pl.DataFrame:
    """Prescriptions of one block, ordered by person and start date."""
    drug_codes = sorted({atc for c in CONDITIONS for atc, _ in c.drugs})
    probs = np.zeros((len(CONDITIONS), len(drug_codes)))
    for i, c in enumerate(CONDITIONS):
        for atc, p in c.drugs:
            probs[i, drug_codes.index(atc)] = p
    # a person gets a drug if any of their conditions prescribes it
    p_person = 1.0 - np.prod(1.0 - has[:, :, None] * probs[None, :, :], axis=1)
    win_days = win.seconds // 86400
    mask = (rng.random(p_person.shape) < p_person) & (win_days[:, None] > 0)
    person, drug = np.nonzero(mask)
    w_start = win.start.astype("datetime64[D]")
    w_end = win.end.astype("datetime64[D]")
    start = w_start[person] + (rng.random(person.size) * win_days[person]).astype(np.int64) * _DAY
    stops = rng.random(person.size) < 0.35
    end = start + rng.integers(30, 720, person.size) * _DAY
    chronic_atc = np.array(drug_codes)[drug] if drug.size else np.array([], dtype=str)

    # acute courses after a third of the acute contacts
    akut = contacts["priority"].to_numpy() == "akut"
    course = akut & (rng.random(contacts.height) < 0.33)
    c_rows = np.flatnonzero(course)
    c_person = contacts["person_idx"].to_numpy()[c_rows]
    c_start = contacts["start_time"].to_numpy().astype("datetime64[D]")[c_rows]
    c_end = c_start + rng.integers(5, 15, c_rows.size) * _DAY
    c_atc = np.array(ACUTE_DRUGS)[rng.integers(0, len(ACUTE_DRUGS), c_rows.size)]

    all_person = np.concatenate([person, c_person])
    all_start = np.concatenate([start, c_start])
    all_end = np.concatenate([end, c_end])
    has_end = np.concatenate([stops, np.ones(c_rows.size, dtype=bool)])
    atc = np.concatenate([chronic_atc, c_atc]).astype(str)
    # an end date beyond the window is not known yet (alive) or is the death date
    beyond = all_end > w_end[all_person]
    alive = win.alive[all_person]
    has_end &= ~(beyond & alive)
    all_end = np.where(beyond, w_end[all_person], all_end)
    all_end = np.where(has_end, all_end, np.datetime64("NaT"))

    order = np.lexsort((atc, all_start, all_person))
    all_person, all_start, all_end, atc = (
        all_person[order], all_start[order], all_end[order], atc[order]
    )  # fmt: skip
    table = codelists.load("atc")
    names = dict(zip(table["code"].to_list(), table["name_da"].to_list(), strict=True))
    strengths = dict(zip(table["code"].to_list(), table["strength"].to_list(), strict=True))
    frame = pl.DataFrame(
        {
            "prescription_id": _ids("R", first_id, atc.size),
            "cpr": persons["cpr"].gather(all_person),
            "atc_code": atc,
            "start_date": all_start.astype("datetime64[D]"),
            "end_date": all_end.astype("datetime64[D]"),
        },
        schema_overrides={"cpr": pl.Utf8, "atc_code": pl.Utf8},
    )
    return frame.select(
        "prescription_id",
        "cpr",
        "atc_code",
        pl.col("atc_code").replace_strict(names, return_dtype=pl.Utf8).alias("drug_name"),
        pl.col("atc_code").replace_strict(strengths, return_dtype=pl.Utf8).alias("strength"),
        pl.col("start_date").cast(pl.Date),
        pl.col("end_date").cast(pl.Date),
    )
