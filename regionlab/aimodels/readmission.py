"""The 30-day readmission risk model: features, training, scoring (scikit-learn).

One row per *index contact* (a finished contact: end after start). Features are
what a discharge screen knows: age (lower bound of the 5-year band), sex, whether
the contact itself was acute, its length of stay, and the person's contacts and
acute contacts in the 365 days before it. The outcome is the published definition,
``research/readmissions_30d``: the contact is someone's ``index_contact_id`` there.

The same SQL runs in a workspace (tables ``<domain>.<product>``, person keys
re-keyed per project) and over the lake (``lake.<domain>.<product>``): person keys
are only used to join a person's own rows, so the key space does not matter.
The model is stored as JSON (coefficients, scaling, training counts and the
binned training distribution of each feature for drift) — never pickled, and
with no row of data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from sklearn.linear_model import LogisticRegression

from regionlab.aimodels import drift

FEATURES = ("age", "sex_k", "acute_index", "length_of_stay_h", "prior_contacts_365d",
            "prior_acute_365d")  # fmt: skip
Resolve = Callable[[str], str]  # product ref -> table name in the connection


def workspace_tables(ref: str) -> str:
    domain, name = ref.split("/")
    return f'"{domain}"."{name}"'


def lake_tables(ref: str) -> str:
    from regionlab import lake

    return lake.table_name(*ref.split("/"))


def feature_sql(table: Resolve, start: str, end: str, *, with_outcome: bool = True) -> str:
    """Index contacts ending in [start, end) with their features (and outcome)."""
    contacts = table("patient_administration/contacts")
    persons = table("population/persons")
    outcome = (
        f"""
        , (c.contact_id IN (SELECT index_contact_id FROM {table("research/readmissions_30d")}))
            ::INTEGER AS readmitted"""
        if with_outcome
        else ""
    )
    return f"""
    WITH valid AS (
        SELECT contact_id, person_key, department_code, priority, start_time, end_time
        FROM {contacts}
        WHERE end_time IS NOT NULL AND end_time >= start_time
    ),
    idx AS (
        SELECT * FROM valid
        WHERE end_time >= TIMESTAMP '{start}' AND end_time < TIMESTAMP '{end}'
    ),
    history AS (
        SELECT i.contact_id,
               count(h.contact_id) AS prior_contacts_365d,
               count(h.contact_id) FILTER (WHERE h.priority = 'akut') AS prior_acute_365d
        FROM idx i LEFT JOIN valid h
          ON h.person_key = i.person_key
         AND h.start_time < i.start_time
         AND h.start_time >= i.start_time - INTERVAL 365 DAY
        GROUP BY i.contact_id
    )
    SELECT c.contact_id,
           c.department_code,
           p.sex,
           p.age_band,
           p.municipality_code,
           TRY_CAST(regexp_extract(p.age_band, '^([0-9]+)', 1) AS DOUBLE) AS age,
           (p.sex = 'K')::INTEGER AS sex_k,
           (c.priority = 'akut')::INTEGER AS acute_index,
           date_diff('minute', c.start_time, c.end_time) / 60.0 AS length_of_stay_h,
           h.prior_contacts_365d,
           h.prior_acute_365d{outcome}
    FROM idx c
    JOIN history h USING (contact_id)
    LEFT JOIN {persons} p ON p.person_key = c.person_key
    ORDER BY c.contact_id
    """


@dataclass
class Frame:
    """Columns of a feature query as NumPy arrays."""

    columns: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(self.columns["contact_id"])

    def matrix(self) -> np.ndarray:
        x = np.column_stack([np.asarray(self.columns[f], dtype=float) for f in FEATURES])
        return np.nan_to_num(x, nan=0.0)


def load_frame(con: duckdb.DuckDBPyConnection, sql: str) -> Frame:
    arrow = con.execute(sql).fetch_arrow_table()
    return Frame(
        {name: arrow.column(name).to_numpy(zero_copy_only=False) for name in arrow.column_names}
    )


@dataclass
class TrainedModel:
    model_id: str
    version: str
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    trained_at: str
    training: dict[str, Any]  # window, rows, positives, snapshot, workspace
    reference: dict[str, dict[str, list[float]]]  # feature -> binned training distribution

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.array(self.mean)) / np.array(self.scale)
        return 1 / (1 + np.exp(-(z @ np.array(self.coef) + self.intercept)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def train(frame: Frame, model_id: str, version: str, training: dict[str, Any]) -> TrainedModel:
    """Standardised logistic regression (L2, C=1) on the frame's features."""
    x = frame.matrix()
    y = np.asarray(frame.columns["readmitted"], dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    fit = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    reference = {f: drift.reference_bins(x[:, i]) for i, f in enumerate(FEATURES)}
    return TrainedModel(
        model_id=model_id,
        version=version,
        features=list(FEATURES),
        mean=mean.tolist(),
        scale=scale.tolist(),
        coef=fit.coef_[0].tolist(),
        intercept=float(fit.intercept_[0]),
        trained_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        training={**training, "rows": int(y.size), "positives": int(y.sum())},
        reference=reference,
    )
