"""The CPR register of the synthetic region: who lives where, born when, dead when.

Ages follow Denmark's age pyramid, municipalities their real population sizes, and
deaths a Gompertz hazard, so feasibility counts by age or municipality look
plausible. Everything is drawn from the block's random generator in a fixed
order, which is what makes a seed reproduce byte-identical files.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from regionlab import codelists
from regionlab.synth.cpr_numbers import UsedNumbers, format_keys, generate_keys

# Share of the population per 5-year age band 0-4 ... 100-104 (Denmark, ca. 2024).
AGE_BANDS = np.array(
    [5.3, 5.6, 5.9, 5.9, 6.4, 6.9, 6.3, 5.9, 6.0, 6.3, 7.0, 6.9, 6.0, 5.6, 5.4, 4.5, 2.9, 1.5,
     0.6, 0.15, 0.02]
)  # fmt: skip

# Inhabitants (thousands) of the region's municipalities: sampling weights.
MUNICIPALITY_POPULATION: dict[str, float] = {
    "410": 39.0, "420": 41.0, "430": 52.0, "440": 24.0, "450": 32.0, "461": 207.0,
    "479": 59.0, "480": 30.0, "482": 12.0, "492": 6.0, "510": 55.0, "530": 27.0,
    "540": 73.0, "550": 37.0, "561": 116.0, "563": 3.5, "573": 50.0, "575": 43.0,
    "580": 59.0, "607": 52.0, "621": 95.0, "630": 120.0,
}  # fmt: skip

# Which hospital serves which municipality (catchment area).
_FYN = ("410", "420", "430", "440", "450", "461", "479", "480", "482", "492")
_SYDVEST = ("530", "561", "563", "573", "575")
_LILLEBAELT = ("607", "621", "630")
_SOENDERJYLLAND = ("510", "540", "550", "580")
CATCHMENT: dict[str, str] = {
    **dict.fromkeys(_FYN, "Odense Universitetshospital"),
    **dict.fromkeys(_SYDVEST, "Sydvestjysk Sygehus"),
    **dict.fromkeys(_LILLEBAELT, "Sygehus Lillebælt"),
    **dict.fromkeys(_SOENDERJYLLAND, "Sygehus Sønderjylland"),
}

STREETS = (
    "Vestergade", "Østergade", "Nørregade", "Søndergade", "Kirkevej", "Skolevej", "Møllevej",
    "Bakkevej", "Skovvej", "Engvej", "Stationsvej", "Strandvejen", "Havnegade", "Jernbanegade",
    "Kongensgade", "Dronningensgade", "Fynsvej", "Ribe Landevej", "Haderslevvej", "Parkvej",
    "Birkevej", "Egevej", "Bøgevej", "Lindevej", "Rosenvænget", "Solvej", "Vesterbro",
    "Klostervej", "Åboulevarden", "Torvet",
)  # fmt: skip
_FLOORS = ("", "", "", ", st. th.", ", st. tv.", ", 1. th.", ", 1. tv.", ", 2. th.", ", 3. mf.")

#: Annual death hazard exp(A + B*age): about 0.1 % at 40, 5 % at 80, 20 % at 95.
_HAZARD_A, _HAZARD_B = -10.6, 0.095


def _zipf_weights(n: int, s: float = 0.9) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def generate_persons(
    n: int,
    rng: np.random.Generator,
    as_of: date,
    events_start: date,
    used: UsedNumbers,
) -> pl.DataFrame:
    """One block of the register, plus helper columns (``age``, ``hospital_name``).

    Persons may have died between ``events_start - 2 years`` and ``as_of``; the
    register keeps them, as the real one does.
    """
    as_of64 = np.datetime64(as_of, "D")
    band = rng.choice(AGE_BANDS.size, size=n, p=AGE_BANDS / AGE_BANDS.sum())
    age_days = ((band * 5 + rng.random(n) * 5) * 365.25).astype(np.int64)
    birth = as_of64 - age_days - 1  # born before as_of
    # Women outlive men: half of the young are men, about a third of the over-90s.
    age_years = age_days / 365.25
    male = rng.random(n) < np.clip(0.5 - 0.006 * (age_years - 60.0), 0.32, 0.5)
    keys = generate_keys(birth, male, rng, used)

    # Deaths: hazard at the person's age now, over the years the register covers.
    span_start = np.datetime64(date(events_start.year - 2, 1, 1), "D")
    years = (as_of64 - span_start).astype(np.int64) / 365.25
    age = age_days / 365.25
    p_die = 1.0 - np.exp(-np.exp(_HAZARD_A + _HAZARD_B * age) * years)
    dies = rng.random(n) < p_die
    death = span_start + (rng.random(n) * (as_of64 - span_start).astype(np.int64)).astype(np.int64)
    dies &= death > birth
    death_col = np.where(dies, death, np.datetime64("NaT"))

    names = codelists.load("names")
    male_names = names.filter(pl.col("kind") == "first_male")["name"].to_numpy()
    female_names = names.filter(pl.col("kind") == "first_female")["name"].to_numpy()
    last_names = names.filter(pl.col("kind") == "last")["name"].to_numpy()
    first = np.where(
        male,
        male_names[rng.choice(male_names.size, n, p=_zipf_weights(male_names.size, 0.6))],
        female_names[rng.choice(female_names.size, n, p=_zipf_weights(female_names.size, 0.6))],
    )
    last = last_names[rng.choice(last_names.size, n, p=_zipf_weights(last_names.size, 1.0))]

    muni_codes = np.array(list(MUNICIPALITY_POPULATION))
    weights = np.array(list(MUNICIPALITY_POPULATION.values()))
    muni = muni_codes[rng.choice(muni_codes.size, n, p=weights / weights.sum())]
    postcodes = codelists.load("postcodes")
    # pick a postcode uniformly among the municipality's postcodes
    pc_sorted = postcodes.sort(["municipality_code", "postcode"])
    pc_muni = pc_sorted["municipality_code"].to_numpy()
    pc_code = pc_sorted["postcode"].to_numpy()
    first_idx = np.searchsorted(pc_muni, muni, side="left")
    count = np.searchsorted(pc_muni, muni, side="right") - first_idx
    postcode = pc_code[first_idx + (rng.random(n) * count).astype(np.int64)]

    street = np.array(STREETS)[rng.integers(0, len(STREETS), n)]
    number = rng.integers(1, 160, n)
    floor = np.array(_FLOORS)[rng.integers(0, len(_FLOORS), n)]

    phone_num = rng.integers(20_000_000, 100_000_000, n)
    has_phone = rng.random(n) < np.where(age < 12, 0.3, 0.92)
    spaced = rng.random(n) < 0.5

    frame = pl.DataFrame(
        {
            "cpr": format_keys(keys),
            "first_name": first,
            "last_name": last,
            "birth_date": birth,
            "sex": np.where(male, "M", "K"),
            "street": street,
            "number": number,
            "floor": floor,
            "postcode": postcode,
            "municipality_code": muni,
            "phone_num": phone_num,
            "has_phone": has_phone,
            "spaced": spaced,
            "death_date": death_col,
            "age": age,
        }
    )
    digits = pl.col("phone_num").cast(pl.Utf8)
    phone = (
        pl.when(~pl.col("has_phone"))
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(pl.col("spaced"))
        .then(digits.str.slice(0, 4) + " " + digits.str.slice(4, 4))
        .otherwise(digits)
    )
    return frame.select(
        "cpr",
        "first_name",
        "last_name",
        pl.col("birth_date").cast(pl.Date),
        "sex",
        pl.format("{} {}{}", "street", "number", "floor").alias("address"),
        "postcode",
        "municipality_code",
        phone.alias("phone"),
        pl.col("death_date").cast(pl.Date),
        "age",
        pl.col("municipality_code").replace_strict(CATCHMENT).alias("hospital_name"),
    )


PERSON_COLUMNS = (
    "cpr", "first_name", "last_name", "birth_date", "sex", "address", "postcode",
    "municipality_code", "phone", "death_date",
)  # fmt: skip
