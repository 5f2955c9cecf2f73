"""Chronic disease cohorts: who has which condition, and what that implies.

Each condition carries everything the event generators need (specialty, contact
rate, diagnosis codes, drugs), so a diabetic consistently gets endocrinology
contacts with DE11x diagnoses, a high HbA1c and metformin/GLP-1 — the coherence a
feasibility query or a research cohort definition relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Condition:
    """A chronic condition with an age-dependent (logistic) prevalence."""

    name: str
    specialty: str
    max_prevalence: float
    midpoint_age: float
    min_age: float
    contacts_per_year: float
    diagnoses: tuple[tuple[str, float], ...]  # A-diagnosis codes and weights; first is main
    drugs: tuple[tuple[str, float], ...]  # (ATC, probability a patient gets it)
    sex: str | None = None  # "M"/"K" for sex-specific cancers


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "t2d", "endokrinologi", 0.22, 66, 25, 2.5,
        (("DE119", 0.6), ("DE112", 0.1), ("DE113", 0.1), ("DE114", 0.08), ("DE117", 0.06),
         ("DE118", 0.06)),
        (("A10BA02", 0.9), ("A10BJ02", 0.15), ("A10BJ06", 0.2), ("A10BK01", 0.2),
         ("A10BK03", 0.1), ("A10AE04", 0.12), ("C10AA01", 0.4), ("C10AA05", 0.3)),
    ),
    Condition(
        "t1d", "endokrinologi", 0.006, 8, 0, 3.0,
        (("DE109", 0.8), ("DE102", 0.1), ("DE103", 0.1)),
        (("A10AE04", 1.0), ("A10AB05", 1.0)),
    ),
    Condition(
        "copd", "lungemedicin", 0.12, 72, 40, 1.5,
        (("DJ449", 0.6), ("DJ441", 0.3), ("DJ440", 0.1)),
        (("R03AC02", 0.9), ("R03BB04", 0.5), ("R03AK06", 0.3), ("R03AL03", 0.2)),
    ),
    Condition(
        "heart_failure", "kardiologi", 0.10, 80, 45, 2.0,
        (("DI509", 0.5), ("DI500", 0.3), ("DI110", 0.2)),
        (("C03CA01", 0.8), ("C07AB07", 0.6), ("C09AA05", 0.5), ("C09DX04", 0.25),
         ("C03DA01", 0.4)),
    ),
    Condition(
        "hypertension", "kardiologi", 0.45, 65, 30, 0.3,
        (("DI10", 1.0),),
        (("C08CA01", 0.5), ("C09AA05", 0.3), ("C09CA01", 0.3), ("C03AA03", 0.2),
         ("B01AC06", 0.2)),
    ),
    Condition(
        "atrial_fibrillation", "kardiologi", 0.12, 80, 50, 0.8,
        (("DI48", 0.5), ("DI480", 0.5)),
        (("B01AF02", 0.5), ("B01AF01", 0.3), ("B01AA03", 0.1), ("C07AB02", 0.5)),
    ),
    Condition(
        "breast_cancer", "onkologi", 0.045, 66, 30, 5.0,
        (("DC509", 1.0),),
        (("L02BA01", 0.6), ("N02BE01", 0.4)),
        sex="K",
    ),
    Condition(
        "prostate_cancer", "onkologi", 0.06, 75, 45, 4.0,
        (("DC619", 1.0),),
        (("L02BB03", 0.5), ("G04CA02", 0.3)),
        sex="M",
    ),
    Condition(
        "colorectal_cancer", "onkologi", 0.02, 75, 35, 5.0,
        (("DC189", 0.7), ("DC209", 0.3)),
        (("N02AA05", 0.3), ("N02BE01", 0.5)),
    ),
    Condition(
        "lung_cancer", "onkologi", 0.012, 72, 40, 6.0,
        (("DC349", 1.0),),
        (("N02AA05", 0.4), ("N02BE01", 0.5)),
    ),
    Condition(
        "depression", "psykiatri", 0.07, 28, 14, 2.0,
        (("DF329", 0.5), ("DF321", 0.3), ("DF331", 0.2)),
        (("N06AB04", 0.4), ("N06AB10", 0.3), ("N06AB06", 0.3), ("N06AX11", 0.15)),
    ),
    Condition(
        "ckd", "nefrologi", 0.05, 80, 40, 1.5,
        (("DN183", 0.6), ("DN184", 0.3), ("DN185", 0.1)),
        (("C03CA01", 0.3),),
    ),
)  # fmt: skip

CONDITION_NAMES = tuple(c.name for c in CONDITIONS)


def prevalence(condition: Condition, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Probability of having the condition at each age (logistic in age)."""
    p = condition.max_prevalence / (1.0 + np.exp(-(age - condition.midpoint_age) / 8.0))
    p = np.where(age >= condition.min_age, p, 0.0)
    if condition.sex is not None:
        p = np.where(sex == condition.sex, p, 0.0)
    return p


def assign_conditions(persons: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """(n_persons, n_conditions) boolean matrix of who has what."""
    age = persons["age"].to_numpy()
    sex = persons["sex"].to_numpy()
    draws = rng.random((persons.height, len(CONDITIONS)))
    probs = np.column_stack([prevalence(c, age, sex) for c in CONDITIONS])
    has = draws < probs
    # type 1 and type 2 diabetes exclude each other
    t1, t2 = CONDITION_NAMES.index("t1d"), CONDITION_NAMES.index("t2d")
    has[:, t2] &= ~has[:, t1]
    return has
