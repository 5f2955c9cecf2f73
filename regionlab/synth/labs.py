"""Laboratory results (NPU codes) drawn at contacts, with values that fit the patient.

Each specialty orders its usual panel; values scatter around the reference
interval, and chronic conditions move them the way they do in real life: diabetics
have HbA1c above 48 mmol/mol, heart failure raises NT-proBNP, kidney disease raises
creatinine. That makes lab-based cohort definitions find the right people.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from regionlab import codelists
from regionlab.synth.cohorts import CONDITION_NAMES
from regionlab.synth.contacts import SPECIALTIES
from regionlab.synth.diagnoses import _ids

# Chance per contact that each analysis is ordered, by specialty.
PANELS: dict[str, tuple[tuple[str, float], ...]] = {
    "endokrinologi": (("NPU27300", 0.95), ("NPU02192", 0.5), ("NPU18016", 0.7),
                      ("NPU01807", 0.5), ("NPU01568", 0.5), ("NPU19661", 0.3),
                      ("NPU03230", 0.3), ("NPU03429", 0.3)),
    "kardiologi": (("NPU21571", 0.6), ("NPU27822", 0.4), ("NPU03230", 0.7), ("NPU03429", 0.7),
                   ("NPU18016", 0.7), ("NPU02319", 0.6), ("NPU01685", 0.2), ("NPU01807", 0.3)),
    "lungemedicin": (("NPU19748", 0.7), ("NPU02593", 0.7), ("NPU02319", 0.6)),
    "akutmodtagelse": (("NPU19748", 0.8), ("NPU02593", 0.8), ("NPU02319", 0.8),
                       ("NPU03230", 0.7), ("NPU03429", 0.7), ("NPU18016", 0.7),
                       ("NPU02192", 0.4), ("NPU27822", 0.2)),
    "ortopædkirurgi": (("NPU02319", 0.6), ("NPU19748", 0.3), ("NPU18016", 0.3)),
    "intern medicin": (("NPU19748", 0.7), ("NPU02593", 0.7), ("NPU02319", 0.7),
                       ("NPU03230", 0.6), ("NPU03429", 0.6), ("NPU18016", 0.6),
                       ("NPU19673", 0.4), ("NPU01459", 0.4), ("NPU03577", 0.2),
                       ("NPU03579", 0.1), ("NPU19763", 0.2), ("NPU01700", 0.1),
                       ("NPU10267", 0.1), ("NPU01443", 0.2), ("NPU04094", 0.1),
                       ("NPU01567", 0.1)),
    "kirurgi": (("NPU19748", 0.6), ("NPU02593", 0.6), ("NPU01349", 0.4), ("NPU19651", 0.4),
                ("NPU27783", 0.3), ("NPU01370", 0.3)),
    "onkologi": (("NPU02319", 0.8), ("NPU02593", 0.8), ("NPU03568", 0.8), ("NPU19651", 0.5),
                 ("NPU19654", 0.3), ("NPU27783", 0.5), ("NPU01370", 0.4), ("NPU08669", 0.2)),
    "psykiatri": (("NPU03230", 0.2), ("NPU03577", 0.2)),
    "nefrologi": (("NPU18016", 0.95), ("NPU01459", 0.7), ("NPU03429", 0.8), ("NPU03230", 0.6),
                  ("NPU03096", 0.5), ("NPU04144", 0.3), ("NPU02319", 0.5)),
}  # fmt: skip

# Analyses whose reference interval starts at 0 are skewed: log-normal values.
_SKEWED = {"NPU19748", "NPU27822", "NPU21571", "NPU08669", "NPU19661"}


def generate_labs(
    contacts: pl.DataFrame,
    persons: pl.DataFrame,
    has: np.ndarray,
    rng: np.random.Generator,
    first_id: int,
) -> pl.DataFrame:
    """Lab results of one block's contacts."""
    npu = codelists.load("npu")
    codes = npu["code"].to_numpy()
    lo = npu["reference_low"].to_numpy()
    hi = npu["reference_high"].to_numpy()
    probs = np.zeros((len(SPECIALTIES), codes.size))
    for s, table in PANELS.items():
        for code, p in table:
            probs[SPECIALTIES.index(s), int(np.flatnonzero(codes == code)[0])] = p

    spec = contacts["specialty_idx"].to_numpy()
    mask = rng.random((contacts.height, codes.size)) < probs[spec]
    rows, a = np.nonzero(mask)
    n = rows.size
    person = contacts["person_idx"].to_numpy()[rows]
    cond = has[person]

    def has_(name: str) -> np.ndarray:
        return cond[:, CONDITION_NAMES.index(name)]

    code = codes[a]
    mid, width = (lo[a] + hi[a]) / 2, (hi[a] - lo[a])
    z = rng.normal(0.0, 1.0, n)
    value = mid + width / 4 * 1.1 * z
    skew = np.isin(code, list(_SKEWED))
    value = np.where(skew, hi[a] / 3 * np.exp(0.9 * z), value)

    diabetic = has_("t2d") | has_("t1d")
    hba1c = code == "NPU27300"
    value = np.where(hba1c & diabetic, np.maximum(60 + 10 * z, 49), value)
    value = np.where(hba1c & ~diabetic, np.minimum(36 + 4 * z, 47), value)
    value = np.where((code == "NPU02192") & diabetic, 9 + 2.5 * np.abs(z), value)
    value = np.where((code == "NPU18016") & has_("ckd"), 220 * np.exp(0.4 * z), value)
    value = np.where((code == "NPU21571") & has_("heart_failure"), 150 * np.exp(0.8 * z), value)
    male = persons["sex"].to_numpy()[person] == "M"
    value = np.where((code == "NPU02319") & male, value + 0.5, value)
    value = np.where((code == "NPU08669") & has_("prostate_cancer"), 25 * np.exp(z), value)
    acute = spec[rows] == SPECIALTIES.index("akutmodtagelse")
    value = np.where((code == "NPU19748") & acute, 12 * np.exp(1.3 * z), value)
    value = np.maximum(value, 0.0)
    decimals = np.where(hi[a] >= 30, 0, np.where(hi[a] >= 5, 1, 2))
    value = np.round(value * 10.0**decimals) / 10.0**decimals

    start = contacts["start_time"].to_numpy().astype("datetime64[s]")[rows]
    offset = rng.integers(0, 61, n) * np.timedelta64(60, "s")
    return pl.DataFrame(
        {
            "sample_id": _ids("S", first_id, n, width=10),
            "cpr": contacts["cpr"].gather(rows),
            "npu_code": code.astype(str),
            "analysis_name": npu["name_da"].gather(a),
            "value": value,
            "unit": npu["unit"].gather(a),
            "reference_low": lo[a],
            "reference_high": hi[a],
            "sampled_at": (start + offset).astype("datetime64[us]"),
            "department_code": contacts["department_code"].gather(rows),
        },
        schema_overrides={
            "cpr": pl.Utf8, "npu_code": pl.Utf8, "analysis_name": pl.Utf8, "unit": pl.Utf8,
            "department_code": pl.Utf8, "value": pl.Float64, "reference_low": pl.Float64,
            "reference_high": pl.Float64,
        },
    )  # fmt: skip
