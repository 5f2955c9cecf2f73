"""LPR3-style hospital contacts: how often, where, when and how long.

Everyone gets a few contacts that rise with age; each chronic condition adds
regular contacts at its specialty. Contacts stay inside the person's life and the
extract window (after birth, before death, not after ``as_of``), so the only events
after death or in the future are the labelled defects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from regionlab import codelists
from regionlab.synth.cohorts import CONDITIONS

SPECIALTIES: tuple[str, ...] = (
    "endokrinologi", "kardiologi", "lungemedicin", "akutmodtagelse", "ortopædkirurgi",
    "onkologi", "psykiatri", "intern medicin", "kirurgi", "nefrologi",
)  # fmt: skip
# Where contacts without a chronic reason go.
_GENERAL_SPECIALTIES = np.array(
    [
        SPECIALTIES.index(s)
        for s in ("akutmodtagelse", "ortopædkirurgi", "intern medicin", "kirurgi")
    ]
)
_GENERAL_WEIGHTS = np.array([0.4, 0.2, 0.2, 0.2])
CONTACT_TYPES = np.array(["fysisk fremmøde", "virtuel", "hjemmebesøg"])
SECOND = np.timedelta64(1, "s")


@dataclass
class Windows:
    """Per-person event window [start, end) in datetime64[s]."""

    start: np.ndarray
    end: np.ndarray
    alive: np.ndarray  # end is as_of (True) or the death date (False)

    @property
    def seconds(self) -> np.ndarray:
        return np.maximum((self.end - self.start) // SECOND, 0)


def windows(persons: pl.DataFrame, events_start: date, as_of: date) -> Windows:
    """Each person's event window: after birth and events_start, before death and as_of."""
    birth = persons["birth_date"].to_numpy().astype("datetime64[s]")
    death = persons["death_date"].to_numpy().astype("datetime64[s]")
    start = np.maximum(birth, np.datetime64(events_start, "s"))
    as_of_s = np.datetime64(as_of, "s")
    dead = ~np.isnat(death)
    end = np.where(dead, np.minimum(death, as_of_s), as_of_s)
    return Windows(start=start, end=end, alive=~dead)


def _department_lookup() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Hospital names and (hospital, specialty) -> hospital/department code matrices."""
    deps = codelists.load("departments")
    hospitals = sorted(deps["hospital_name"].unique().to_list())
    hosp_codes = np.empty((len(hospitals), len(SPECIALTIES)), dtype=object)
    dep_codes = np.empty((len(hospitals), len(SPECIALTIES)), dtype=object)
    for row in deps.iter_rows(named=True):  # 40 code-list rows, not data
        h, s = hospitals.index(row["hospital_name"]), SPECIALTIES.index(row["specialty"])
        hosp_codes[h, s] = row["hospital_code"]
        dep_codes[h, s] = row["department_code"]
    return hospitals, hosp_codes, dep_codes


def generate_contacts(
    persons: pl.DataFrame,
    has: np.ndarray,
    win: Windows,
    rng: np.random.Generator,
    first_id: int,
) -> pl.DataFrame:
    """Contacts of one block, sorted by person and start time.

    Helper columns (``person_idx``, ``specialty_idx``, ``reason``, ``duration_s``)
    feed the diagnosis, procedure, lab and note generators and are not written.
    """
    n = persons.height
    age = persons["age"].to_numpy()
    years = win.seconds / (365.25 * 86400)

    # how many contacts per person and reason (-1 = no chronic reason)
    general = rng.poisson((0.08 + 0.006 * age) * years)
    counts = [general] + [
        rng.poisson(c.contacts_per_year * years * has[:, i]) for i, c in enumerate(CONDITIONS)
    ]
    person_idx = np.concatenate([np.repeat(np.arange(n), c) for c in counts])
    reason = np.concatenate([np.full(c.sum(), r - 1) for r, c in enumerate(counts)])
    m = person_idx.size

    spec = np.empty(m, dtype=np.int64)
    is_general = reason < 0
    spec[is_general] = rng.choice(_GENERAL_SPECIALTIES, is_general.sum(), p=_GENERAL_WEIGHTS)
    cond_spec = np.array([SPECIALTIES.index(c.specialty) for c in CONDITIONS])
    spec[~is_general] = cond_spec[reason[~is_general]]

    akut_spec = spec == SPECIALTIES.index("akutmodtagelse")
    akut = akut_spec | (rng.random(m) < np.where(is_general, 0.5, 0.1))
    ctype = np.where(akut, 0, rng.choice(3, m, p=[0.75, 0.2, 0.05]))

    # start: a day inside the window, at a clock time fitting the priority
    win_days = win.seconds[person_idx] // 86400
    day = (rng.random(m) * win_days).astype(np.int64)
    clock = (
        np.where(akut, rng.integers(0, 24 * 3600, m), rng.integers(8 * 3600, 15 * 3600, m))
        // 60
        * 60
    )
    day0 = win.start[person_idx].astype("datetime64[D]").astype("datetime64[s]")
    start = day0 + (day * 86400 + clock) * SECOND
    # children born mid-day must not start before birth; keep inside the window
    start = np.maximum(start, win.start[person_idx])

    admitted = akut & (rng.random(m) < 0.4)
    duration = _durations(admitted, akut, rng)
    end = start + duration * SECOND

    # The readmission signal: some contacts are followed by an acute contact 1-29 days
    # after they end, more often for older, chronically ill and admitted patients.
    person_idx, reason, spec, akut, ctype, start, admitted, duration = _readmissions(
        persons, has, win, rng, person_idx, reason, spec, akut, ctype, start, admitted,
        duration, end,
    )  # fmt: skip
    m = person_idx.size
    end = start + duration * SECOND
    win_end = win.end[person_idx]
    alive = win.alive[person_idx]
    ongoing = alive & (end > win_end)  # still admitted on the extract day
    end = np.where(~alive & (end > win_end), np.maximum(win_end, start), end)
    duration = (end - start) // SECOND

    order = np.lexsort((start, person_idx))
    person_idx, reason, spec, akut, ctype = (
        person_idx[order], reason[order], spec[order], akut[order], ctype[order]
    )  # fmt: skip
    start, end, ongoing, duration = start[order], end[order], ongoing[order], duration[order]

    hospitals, hosp_codes, dep_codes = _department_lookup()
    hosp_idx = np.searchsorted(np.array(hospitals), persons["hospital_name"].to_numpy())
    h = hosp_idx[person_idx]
    ids = pl.int_range(first_id, first_id + m, eager=True).cast(pl.Utf8).str.zfill(9)
    return pl.DataFrame(
        {
            "contact_id": ("K" + ids) if m else pl.Series([], dtype=pl.Utf8),
            "cpr": persons["cpr"].gather(person_idx),
            "hospital_code": hosp_codes[h, spec].astype(str),
            "department_code": dep_codes[h, spec].astype(str),
            "contact_type": CONTACT_TYPES[ctype],
            "priority": np.where(akut, "akut", "planlagt"),
            "start_time": start.astype("datetime64[us]"),
            "end_time": np.where(ongoing, np.datetime64("NaT"), end).astype("datetime64[us]"),
            "person_idx": person_idx,
            "specialty_idx": spec,
            "reason": reason,
            "duration_s": duration,
        },
        schema_overrides={"cpr": pl.Utf8, "hospital_code": pl.Utf8, "department_code": pl.Utf8},
    )


def _durations(admitted: np.ndarray, akut: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds per contact (whole minutes): admissions ~2 days, acute visits hours."""
    m = admitted.size
    return (
        np.where(
            admitted,
            np.exp(rng.normal(np.log(48 * 3600), 0.8, m)),
            np.where(akut, rng.uniform(2 * 3600, 8 * 3600, m), rng.uniform(20 * 60, 120 * 60, m)),
        ).astype(np.int64)
        // 60
        * 60
    )


#: Logistic model of an acute return within 30 days (documented in models/readmission_risk.yaml).
READMIT_BASE, READMIT_PER_YEAR, READMIT_PER_CONDITION, READMIT_ADMITTED = -3.4, 0.03, 0.6, 1.2


def _readmissions(
    persons: pl.DataFrame,
    has: np.ndarray,
    win: Windows,
    rng: np.random.Generator,
    person_idx: np.ndarray,
    reason: np.ndarray,
    spec: np.ndarray,
    akut: np.ndarray,
    ctype: np.ndarray,
    start: np.ndarray,
    admitted: np.ndarray,
    duration: np.ndarray,
    end: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Append acute return contacts: P = logistic(base + 0.03*(age-50) + 0.6*conditions
    + 1.2*admitted), starting 1-29 days after the contact ends, inside the person's window.

    The one learnable signal of the readmission model: age, chronic conditions (seen
    as prior contacts) and an admitted index contact (seen as its length of stay).
    """
    age = persons["age"].to_numpy()[person_idx].astype(float)
    conditions = has.sum(axis=1)[person_idx] if has.size else np.zeros(person_idx.size)
    logit = (
        READMIT_BASE
        + READMIT_PER_YEAR * (age - 50)
        + READMIT_PER_CONDITION * conditions
        + READMIT_ADMITTED * admitted
    )
    back = rng.random(person_idx.size) < 1 / (1 + np.exp(-logit))
    gap = (rng.uniform(1, 29, person_idx.size) * 86400).astype(np.int64) // 60 * 60
    new_start = end + gap * SECOND
    back &= new_start < win.end[person_idx]
    k = int(back.sum())
    new_admitted = rng.random(k) < 0.6
    new_duration = _durations(new_admitted, np.ones(k, dtype=bool), rng)
    acute_spec = SPECIALTIES.index("akutmodtagelse")
    return (
        np.concatenate([person_idx, person_idx[back]]),
        np.concatenate([reason, np.full(k, -1)]),
        np.concatenate([spec, np.full(k, acute_spec)]),
        np.concatenate([akut, np.ones(k, dtype=bool)]),
        np.concatenate([ctype, np.zeros(k, dtype=ctype.dtype)]),
        np.concatenate([start, new_start[back]]),
        np.concatenate([admitted, new_admitted]),
        np.concatenate([duration, new_duration]),
    )


CONTACT_COLUMNS = (
    "contact_id", "cpr", "hospital_code", "department_code", "contact_type", "priority",
    "start_time", "end_time",
)  # fmt: skip
