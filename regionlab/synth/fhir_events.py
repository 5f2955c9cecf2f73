"""FHIR R4 resources for the synthetic region: encounters, vital signs and lab results.

The resources use the batch sources' persons (their CPR numbers, from the CPR
extract ``regionlab synth`` wrote), the region's departments (SOR ids) and its
NPU analyses, so a streamed observation joins the batch products on the person
key, the department and the code. Defects are the batch sources' kinds, labelled
in the producer's ledger: an invalid resource, a bad CPR number, an identifier in
free text and a duplicate (handled by the feed: the same resource sent twice).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from regionlab import codelists
from regionlab.errors import UserError
from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.sql import quote_literal
from regionlab.synth.cpr_numbers import invalid_cprs

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
NPU_SYSTEM = "urn:oid:1.2.208.176.2.1"
LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ENCOUNTER_EVENT = "urn:regionlab:encounter-event"

#: Vital signs: LOINC code, name, UCUM unit, mean, spread.
VITALS = (
    ("8867-4", "Puls", "/min", 78.0, 14.0),
    ("8480-6", "Systolisk blodtryk", "mm[Hg]", 128.0, 18.0),
    ("8462-4", "Diastolisk blodtryk", "mm[Hg]", 78.0, 11.0),
    ("8310-5", "Temperatur", "Cel", 37.0, 0.5),
    ("59408-5", "Iltmætning", "%", 96.5, 2.0),
    ("9279-1", "Respirationsfrekvens", "/min", 16.0, 3.0),
)

#: Defect kinds (as in the ledger); the feed adds ``duplicate``.
DEFECTS = ("invalid_resource", "bad_cpr", "identifier_in_text")
NOTES = ("Målt efter hvile.", "Gentaget måling.", "Patient mobiliseret.", None, None, None)


@dataclass(frozen=True)
class Population:
    """The living persons of the batch CPR extract and the region's departments."""

    cpr: list[str]
    first_name: list[str]
    last_name: list[str]
    departments: list[str]

    @classmethod
    def load(cls, sources: Path) -> Population:
        folder = sources / "cpr" / "persons"
        files = sorted(folder.glob("persons_*.csv")) if folder.is_dir() else []
        if not files:
            raise UserError(
                f"no CPR extract in {folder}; the stream uses the batch sources' persons, so "
                "run `regionlab synth` first"
            )
        con = duckdb.connect()
        try:  # the extract carries the batch defects: keep the valid, living, unique persons
            install_cpr_macros(con)
            extract = quote_literal(str(files[-1]))  # a literal: a parameter imports pandas
            alive = con.execute(
                "SELECT any_value(cpr) AS cpr, any_value(first_name) AS first_name, "
                f"any_value(last_name) AS last_name FROM read_csv({extract}, header=true, "
                "all_varchar=true, ignore_errors=true) WHERE coalesce(death_date, '') = '' "
                "AND cpr_is_valid(cpr) GROUP BY cpr_normalise(cpr) ORDER BY 1"
            ).pl()
        finally:
            con.close()
        if alive.is_empty():
            raise UserError(f"{files[-1].name} has no living persons; run `regionlab synth`")
        deps = codelists.load("departments")["department_code"].to_list()
        return cls(
            alive["cpr"].to_list(), alive["first_name"].to_list(), alive["last_name"].to_list(),
            deps,
        )  # fmt: skip


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventFactory:
    """Draws one resource at a time from a seeded generator (same seed, same resources)."""

    def __init__(self, population: Population, seed: int = 42, defect_rate: float = 0.02):
        self.pop = population
        self.rng = np.random.default_rng(seed)
        self.defect_rate = defect_rate
        self.npu = codelists.load("npu").to_dicts()
        self._bad_cpr = invalid_cprs(256, self.rng).to_list()

    def defect(self) -> str | None:
        if self.rng.random() >= self.defect_rate:
            return None
        return str(self.rng.choice(DEFECTS))

    def _person(self) -> int:
        return int(self.rng.integers(len(self.pop.cpr)))

    def _subject(self, cpr: str) -> dict[str, object]:
        return {"identifier": {"system": CPR_SYSTEM, "value": cpr}}

    def observation(
        self, now: dt.datetime, defect: str | None, person: int | None = None
    ) -> dict[str, object]:
        """A vital sign (60 %) or a lab result (40 %) recorded ``now``, with ``defect``."""
        p = self._person() if person is None else person
        cpr = self.pop.cpr[p]
        if defect == "bad_cpr":
            cpr = self._bad_cpr[int(self.rng.integers(len(self._bad_cpr)))]
        observed = now - dt.timedelta(seconds=float(self.rng.uniform(30, 1800)))
        if self.rng.random() < 0.6:
            code, name, unit, mean, sd = VITALS[int(self.rng.integers(len(VITALS)))]
            system, category = LOINC, "vital-signs"
            value = round(max(0.0, float(self.rng.normal(mean, sd))), 1)
        else:
            row = self.npu[int(self.rng.integers(len(self.npu)))]
            code, name, unit, system, category = (
                row["code"], row["name_da"], row["unit"], NPU_SYSTEM, "laboratory",
            )  # fmt: skip
            low, high = float(row["reference_low"] or 0), float(row["reference_high"] or 1)
            value = round(max(0.0, float(self.rng.normal((low + high) / 2, (high - low) / 3))), 2)
        note = NOTES[int(self.rng.integers(len(NOTES)))]
        if defect == "identifier_in_text":
            note = (
                f"Svar givet til {self.pop.first_name[p]} {self.pop.last_name[p]}, "
                f"CPR {self.pop.cpr[p]}."
            )
        resource: dict[str, object] = {
            "resourceType": "Observation",
            "id": self._id("obs"),
            "meta": {"lastUpdated": _iso(now)},
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
            "code": {"coding": [{"system": system, "code": code, "display": name}]},
            "subject": self._subject(cpr),
            "effectiveDateTime": _iso(observed),
            "valueQuantity": {"value": value, "unit": unit},
            "performer": [{"identifier": {"system": SOR_SYSTEM, "value": self._department()}}],
        }
        if note:
            resource["note"] = [{"text": note}]
        if defect == "invalid_resource":
            del resource["code"]  # Observation.code is required (1..1)
            resource["valueQuantity"] = {"value": "ikke et tal", "unit": unit}
        return resource

    def _id(self, prefix: str) -> str:
        """A random resource id of letters: digit runs in ids look like phone numbers and
        CPR numbers to the identifier gate, as they would in a real id."""
        letters = self.rng.integers(0, 26, 20)
        return prefix + "-" + "".join(chr(97 + int(i)) for i in letters)

    def _department(self) -> str:
        return self.pop.departments[int(self.rng.integers(len(self.pop.departments)))]

    def encounter(
        self, now: dt.datetime, defect: str | None, person: int | None = None
    ) -> dict[str, object]:
        """An admission, transfer or discharge recorded ``now`` (identifier defects only in
        the CPR number: an encounter has no free text)."""
        p = self._person() if person is None else person
        cpr = self.pop.cpr[p] if defect != "bad_cpr" else self._bad_cpr[0]
        event = str(self.rng.choice(["admit", "transfer", "discharge"]))
        start = now - dt.timedelta(hours=float(self.rng.uniform(0, 72)))
        period: dict[str, str] = {"start": _iso(start)}
        if event == "discharge":
            period["end"] = _iso(now)
        resource: dict[str, object] = {
            "resourceType": "Encounter",
            "id": self._id("enc"),
            "meta": {"lastUpdated": _iso(now)},
            "status": "finished" if event == "discharge" else "in-progress",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "IMP",
            },  # fmt: skip
            "type": [{"coding": [{"system": ENCOUNTER_EVENT, "code": event}]}],
            "subject": self._subject(cpr),
            "period": period,
            "serviceProvider": {"identifier": {"system": SOR_SYSTEM, "value": self._department()}},
        }
        if defect == "invalid_resource":
            resource["status"] = 42  # not a code
            del resource["class"]  # Encounter.class is required (1..1)
        return resource

    def resource(
        self, kind: str, now: dt.datetime, defect: str | None, person: int | None = None
    ) -> dict[str, object]:
        if kind == "Encounter":
            return self.encounter(now, defect, person)
        if kind == "Observation":
            return self.observation(now, defect, person)
        raise UserError(f"the synthetic feed has no {kind} resources; it makes Encounter and "
                        "Observation")  # fmt: skip


def body(resource: dict[str, object]) -> bytes:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
