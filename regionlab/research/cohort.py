"""Cohort definitions: who a feasibility count or a workspace is about.

A cohort is declared in YAML (``cohorts/<name>.yaml``) or built in Python with
:class:`CohortBuilder`; both give the same validated :class:`Cohort` model, so a
notebook and a permit mean exactly the same thing by "type 2 diabetics in Vejle".
:mod:`regionlab.research.cohort_sql` compiles it to SQL over the published
products.

Semantics, so that nobody has to read the SQL:

* Person filters (``age``, ``sex``, ``municipality``, ``alive_at_index``) use
  ``population/persons``; people missing from the person register are never
  in a cohort.
* Every ``include`` criterion must hold (AND); an ``any_of`` criterion holds
  when one of its members holds (OR). A person meeting any ``exclude``
  criterion is out.
* Event criteria (diagnosis, procedure, lab, medication) hold when the person
  has at least ``min_count`` matching rows in the time window.
* Windows are relative to the cohort's one ``index_date``:
  ``within: {from: -365d, to: 0d}`` is the year up to and including the index
  day. Units: ``d`` days, ``w`` weeks, ``m`` months, ``y`` years. A missing
  ``from`` is open towards the past; no ``within`` means any time. A
  prescription matches when its period (start to end, or the start day when it
  has no end) overlaps the window.
* Age: the person register publishes only 5-year bands (``0-4`` ... ``90+``) at
  the extract date, never birth dates. ``age: {min: 50, max: 70}`` therefore
  selects bands, and by default (``match: inside``) only bands lying wholly in
  the range: 50-54 ... 65-69, so people aged 70 are left out rather than
  people aged 71-74 let in (a feasibility count is then a lower bound).
  ``match: overlap`` takes every band that touches the range (an upper bound).
  The compiled cohort carries a note saying which bands were used. The band is
  the age on the extract date, not on the index date.
* ``alive_at_index`` keeps people without a death month or who died in a later
  month than the index date; someone who died in the index month is left out
  because the published death month cannot tell before from after.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from regionlab import codelists
from regionlab.errors import UserError
from regionlab.privacy.bands import AGE_BAND_TOP, AGE_BAND_WIDTH

_NAME = r"^[a-z][a-z0-9_-]*$"
_OFFSET = re.compile(r"^\s*([+-]?\d+)\s*([dwmy])\s*$")
_UNIT_NAMES = {"d": "days", "w": "weeks", "m": "months", "y": "years"}

#: Published age bands in order, e.g. ``0-4`` ... ``85-89``, ``90+``.
AGE_BANDS: tuple[str, ...] = tuple(
    f"{lo}-{lo + AGE_BAND_WIDTH - 1}" for lo in range(0, AGE_BAND_TOP, AGE_BAND_WIDTH)
) + (f"{AGE_BAND_TOP}+",)
SEXES: tuple[str, ...] = ("K", "M")
DIAGNOSIS_TYPES: tuple[str, ...] = ("A", "B")


# ------------------------------------------------------------------ offsets


def parse_offset(value: str | int) -> tuple[int, str]:
    """``"-365d"`` → ``(-365, "d")``; a bare integer counts days."""
    if isinstance(value, bool):
        raise ValueError("an offset is a number with a unit, e.g. -365d")
    if isinstance(value, int):
        return value, "d"
    match = _OFFSET.match(str(value))
    if not match:
        raise ValueError(
            f"offset {value!r} is not understood; write a signed number and a unit "
            "d/w/m/y, e.g. -365d, -12m, 0d"
        )
    return int(match.group(1)), match.group(2)


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    # Clamp the day: 31 January + 1 month is the last day of February.
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def shift(day: date, offset: str | int) -> date:
    """``day`` moved by an offset such as ``-365d`` or ``-1y``."""
    from datetime import timedelta

    n, unit = parse_offset(offset)
    if unit == "d":
        return day + timedelta(days=n)
    if unit == "w":
        return day + timedelta(weeks=n)
    return _add_months(day, n * (12 if unit == "y" else 1))


def _normalise_offset(value: Any) -> str | None:
    if value is None:
        return None
    n, unit = parse_offset(value)
    return f"{n}{unit}"


# ------------------------------------------------------------------ models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Window(_Model):
    """A time window relative to the cohort's index date, both ends inclusive.

    Offsets are a signed number and a unit: ``d`` days, ``w`` weeks, ``m`` months,
    ``y`` years (``-365d``, ``-12m``, ``-1y``); a bare number counts days. Months and years
    move by calendar months (31 January + 1m is the last day of February). ``{from: -365d}``
    alone ends on the index day (``to`` defaults to ``0d``); leaving ``from`` out opens the
    window towards the past. ``from`` must not come after ``to``.
    """

    from_: str | None = Field(
        default=None, alias="from", description="Start, e.g. -365d; empty = open to the past."
    )
    to: str | None = Field(default="0d", description="End, e.g. 0d (the index day itself).")

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _offset(cls, value: Any) -> str | None:
        return _normalise_offset(value)

    def resolve(self, index_date: date) -> tuple[date | None, date | None]:
        """Concrete first and last day of the window (None = open)."""
        start = shift(index_date, self.from_) if self.from_ is not None else None
        end = shift(index_date, self.to) if self.to is not None else None
        return start, end


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


def _check_prefixes(values: list[str], code_list: str, label: str, example: str) -> list[str]:
    """Upper-case the prefixes and refuse any that no code in the list starts with."""
    known = codelists.codes(code_list)
    out = []
    for raw in values:
        prefix = str(raw).strip().upper()
        if not prefix:
            raise ValueError(f"an empty {label} code prefix matches everything; remove it")
        if not any(code.startswith(prefix) for code in known):
            raise ValueError(
                f"unknown {label} code prefix {prefix!r}: no code in the {code_list} list "
                f"starts with it (e.g. {example}); check the code or shorten the prefix"
            )
        out.append(prefix)
    return out


class _Event(_Model):
    within: Window | None = Field(
        default=None, description="When the event must have happened; none = any time."
    )
    min_count: int = Field(default=1, ge=1, description="Matching rows needed (default 1).")


class DiagnosisCriterion(_Event):
    """Has a diagnosis whose SKS code starts with one of ``codes``.

    Codes are prefixes (``DE11`` takes every type 2 diabetes subcode) and must start at least
    one code of the SKS list. The diagnosis's registration time must fall in ``within``;
    without ``within``, ever diagnosed (any time in the published data).
    """

    kind: Literal["diagnosis"] = "diagnosis"
    codes: list[str] = Field(min_length=1, description="SKS diagnosis code prefixes, e.g. DE11.")
    diagnosis_type: list[str] | None = Field(
        default=None, description="A = aktionsdiagnose, B = bidiagnose; none = both."
    )

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        return _check_prefixes(value, "sks_diagnoses", "SKS diagnosis", "DE11")

    @field_validator("diagnosis_type", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        value = _as_list(value)
        if value is None:
            return None
        bad = [v for v in value if str(v).upper() not in DIAGNOSIS_TYPES]
        if bad:
            raise ValueError(f"diagnosis type must be A or B, got {bad}")
        return [str(v).upper() for v in value]


class ProcedureCriterion(_Event):
    """Had a procedure whose SKS code starts with one of ``codes``.

    Codes are prefixes, as for diagnoses. The time it was performed must fall in
    ``within``; without ``within``, ever had the procedure.
    """

    kind: Literal["procedure"] = "procedure"
    codes: list[str] = Field(min_length=1, description="SKS procedure code prefixes, e.g. BJFD.")

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        return _check_prefixes(value, "sks_procedures", "SKS procedure", "BJFD0")


class LabCriterion(_Event):
    """Has a laboratory result for one of ``npu`` with a value in the given range.

    NPU codes are matched whole. Give at most one lower limit (``above`` or ``at_least``)
    and at most one upper limit (``below`` or ``at_most``); with no limit any result of the
    code counts. The sampling time must fall in ``within``; without ``within``, any result
    ever.
    """

    kind: Literal["lab"] = "lab"
    npu: list[str] = Field(min_length=1, description="NPU codes (whole codes, e.g. NPU27300).")
    above: float | None = Field(default=None, description="value > above")
    at_least: float | None = Field(default=None, description="value >= at_least")
    below: float | None = Field(default=None, description="value < below")
    at_most: float | None = Field(default=None, description="value <= at_most")

    @field_validator("npu", mode="before")
    @classmethod
    def _npu_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("npu")
    @classmethod
    def _npu(cls, value: list[str]) -> list[str]:
        known = codelists.codes("npu")
        out = []
        for raw in value:
            code = str(raw).strip().upper()
            if code not in known:
                raise ValueError(
                    f"unknown NPU code {code!r}; NPU codes are matched whole, e.g. NPU27300 "
                    "(HbA1c) — see regionlab/codelists/npu.csv"
                )
            out.append(code)
        return out

    @model_validator(mode="after")
    def _range(self) -> LabCriterion:
        lows = [v for v in (self.above, self.at_least) if v is not None]
        highs = [v for v in (self.below, self.at_most) if v is not None]
        if self.above is not None and self.at_least is not None:
            raise ValueError("give either above or at_least, not both")
        if self.below is not None and self.at_most is not None:
            raise ValueError("give either below or at_most, not both")
        if lows and highs:
            low, high = lows[0], highs[0]
            closed = self.at_least is not None and self.at_most is not None
            if low > high or (low == high and not closed):
                raise ValueError(
                    "the value range is empty: the lower limit must be below the upper limit"
                )
        return self


class MedicationCriterion(_Event):
    """Has a prescription whose ATC code starts with one of ``atc``.

    Codes are prefixes (``A10B`` takes every blood-glucose-lowering drug except insulins).
    A prescription matches when its period (start to end, or the start day when it has no
    end) overlaps ``within``; without ``within``, ever prescribed — any prescription,
    whenever it ran.
    """

    kind: Literal["medication"] = "medication"
    atc: list[str] = Field(min_length=1, description="ATC code prefixes, e.g. A10B.")

    @field_validator("atc", mode="before")
    @classmethod
    def _atc_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("atc")
    @classmethod
    def _atc(cls, value: list[str]) -> list[str]:
        return _check_prefixes(value, "atc", "ATC", "A10BA02")


EventCriterion = Annotated[
    DiagnosisCriterion | ProcedureCriterion | LabCriterion | MedicationCriterion,
    Field(discriminator="kind"),
]


class AnyOfCriterion(_Model):
    """Holds when at least one of its criteria holds (OR); at least two criteria.

    Its members are diagnosis, procedure, lab or medication criteria, each with its own
    ``within`` and ``min_count``; ``any_of`` does not nest.
    """

    kind: Literal["any_of"] = "any_of"
    criteria: list[EventCriterion] = Field(
        min_length=2, description="Two or more diagnosis, procedure, lab or medication criteria."
    )


Criterion = Annotated[
    DiagnosisCriterion | ProcedureCriterion | LabCriterion | MedicationCriterion | AnyOfCriterion,
    Field(discriminator="kind"),
]


class AgeRange(_Model):
    """Age in whole years, both ends inclusive, read as published 5-year age bands.

    ``match: inside`` (the default) takes the bands lying wholly in the range, so the count
    is a lower bound; ``match: overlap`` takes every band touching it (an upper bound). The
    band is the age on the extract date, not on the index date. Give ``min``, ``max`` or
    both; a range that holds no whole band needs ``match: overlap``.
    """

    min: int | None = Field(default=None, ge=0, description="Lowest age in years.")
    max: int | None = Field(default=None, ge=0, description="Highest age in years.")
    match: Literal["inside", "overlap"] = Field(
        default="inside",
        description="inside: bands wholly in the range (lower bound); overlap: bands touching it.",
    )

    @model_validator(mode="after")
    def _bands(self) -> AgeRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if not self.bands():
            raise ValueError(
                f"the range {self.describe()} contains no whole 5-year age band; widen it to "
                "band edges (e.g. min: 50, max: 54) or set match: overlap"
            )
        return self

    def describe(self) -> str:
        low = self.min if self.min is not None else 0
        return f"{low}-{self.max}" if self.max is not None else f"{low}+"

    def bands(self) -> list[str]:
        """The published age bands this range selects."""
        low = self.min if self.min is not None else 0
        high = self.max if self.max is not None else 10_000
        out = []
        for label in AGE_BANDS:
            b_lo = int(label.rstrip("+").split("-")[0])
            b_hi = 10_000 if label.endswith("+") else int(label.split("-")[1])
            inside = low <= b_lo and b_hi <= high
            overlap = b_lo <= high and b_hi >= low
            if inside or (self.match == "overlap" and overlap):
                out.append(label)
        return out

    def note(self) -> str | None:
        """A sentence for the researcher when the bands do not equal the range."""
        bands = self.bands()
        first_lo = int(bands[0].rstrip("+").split("-")[0])
        last_hi = None if bands[-1].endswith("+") else int(bands[-1].split("-")[1])
        exact = (self.min or 0) == first_lo and self.max == last_hi
        if exact:
            return None
        kind = "wholly inside" if self.match == "inside" else "touching"
        bound = "lower" if self.match == "inside" else "upper"
        return (
            f"age {self.describe()} is read as the 5-year bands {kind} it: "
            f"{', '.join(bands)}; counts are a {bound} bound for the exact age range"
        )


class Cohort(_Model):
    """A validated cohort definition.

    Person filters (``age``, ``sex``, ``municipality``, ``alive_at_index``) read
    ``population/persons``; every ``include`` criterion must hold and no ``exclude``
    criterion may hold.
    """

    name: str = Field(pattern=_NAME, description="Short id, e.g. t2d_vejle.")
    title: str = Field(default="", description="A title for people, shown with the counts.")
    description: str = Field(default="", description="What the cohort is for, in words.")
    index_date: date | Literal["today"] = Field(
        default="today", description="Day the time windows are relative to."
    )
    age: AgeRange | None = Field(default=None, description="Age filter (see Age).")
    sex: list[str] | None = Field(default=None, description="K and/or M.")
    municipality: list[str] | None = Field(
        default=None, description="Municipality codes or names (residence from CPR)."
    )
    alive_at_index: bool = Field(
        default=False, description="Only people alive on the index date (by death month)."
    )
    include: list[Criterion] = Field(
        default_factory=list, description="Criteria that must all hold (AND)."
    )
    exclude: list[Criterion] = Field(
        default_factory=list, description="Criteria none of which may hold."
    )

    @field_validator("sex", mode="before")
    @classmethod
    def _sex(cls, value: Any) -> Any:
        value = _as_list(value)
        if value is None:
            return None
        out = [str(v).strip().upper() for v in value]
        bad = [v for v in out if v not in SEXES]
        if bad:
            raise ValueError(f"sex must be K (kvinde) or M (mand), got {bad}")
        return out

    @field_validator("municipality", mode="before")
    @classmethod
    def _municipality(cls, value: Any) -> Any:
        value = _as_list(value)
        if value is None:
            return None
        table = codelists.records("municipalities")
        by_name = {row["name"].casefold(): row["code"] for row in table}
        known = {row["code"] for row in table}
        out = []
        for raw in value:
            text = str(raw).strip()
            code = text if text in known else by_name.get(text.casefold())
            if code is None:
                raise ValueError(
                    f"unknown municipality {text!r}; use a code or name from "
                    "regionlab/codelists/municipalities.csv (e.g. 630 or Vejle)"
                )
            out.append(code)
        return out

    @model_validator(mode="after")
    def _windows(self) -> Cohort:
        index = self.resolved_index_date()
        for where, criterion in criteria_of(self):
            members = criterion.criteria if isinstance(criterion, AnyOfCriterion) else [criterion]
            for j, member in enumerate(members):
                if member.within is None:
                    continue
                start, end = member.within.resolve(index)
                if start is not None and end is not None and start > end:
                    path = where + (f".criteria[{j}]" if len(members) > 1 else "")
                    raise ValueError(
                        f"{path}.within: the window from {member.within.from_} to "
                        f"{member.within.to} is empty; `from` must come before `to`"
                    )
        return self

    def resolved_index_date(self, today: date | None = None) -> date:
        if self.index_date == "today":
            return today or date.today()
        return self.index_date

    def resolved(self, today: date | None = None) -> Cohort:
        """The same cohort with ``index_date`` fixed to a day (for hashing and audit)."""
        return self.model_copy(update={"index_date": self.resolved_index_date(today)})

    def fingerprint(self) -> str:
        """SHA-256 of the canonical definition: two equal cohorts have equal hashes."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    @classmethod
    def builder(cls, name: str, **kwargs: Any) -> CohortBuilder:
        return CohortBuilder(name, **kwargs)


# ------------------------------------------------------------------ errors and loading


def _loc(loc: Sequence[int | str]) -> str:
    kinds = {"diagnosis", "procedure", "lab", "medication", "any_of"}
    out = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(previous, int) and part in kinds:
            pass  # discriminator tag pydantic inserts after a list index
        else:
            out += ("." if out else "") + ("from" if part == "from_" else str(part))
        previous = part
    return out


def validation_message(exc: ValidationError, where: str) -> str:
    """One line per problem, naming the field; never echoing whole inputs."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            msg = "kind must be one of diagnosis, procedure, lab, medication, any_of"
        elif err["type"] == "union_tag_not_found":
            msg = "each criterion needs a kind: diagnosis, procedure, lab, medication or any_of"
        loc = _loc(err["loc"]) if err["loc"] else ""
        lines.append(f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}")
    return "\n".join(lines)


def cohort_from_mapping(data: Mapping[str, Any], where: str = "cohort") -> Cohort:
    """Validate a parsed definition; problems become one ``UserError`` naming the fields."""
    if not isinstance(data, Mapping):
        raise UserError(f"{where}: a cohort must be a mapping with at least `name`")
    try:
        return Cohort.model_validate(dict(data))
    except ValidationError as exc:
        raise UserError(validation_message(exc, where)) from None


def load_cohort(path: Path | str) -> Cohort:
    """Read and validate ``cohorts/<name>.yaml``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"cohort file {path} does not exist; check the path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{where}: not valid YAML; fix the indentation or quoting") from None
    return cohort_from_mapping(data or {}, str(path))


def as_cohort(value: Cohort | CohortBuilder | Path | str | Mapping[str, Any]) -> Cohort:
    """Accept what researchers pass around: a model, a builder, a file or a mapping."""
    if isinstance(value, Cohort):
        return value
    if isinstance(value, CohortBuilder):
        return value.build()
    if isinstance(value, Mapping):
        return cohort_from_mapping(value)
    return load_cohort(value)


# ------------------------------------------------------------------ Python builder


def _window(within: Window | Mapping[str, Any] | tuple[Any, Any] | None) -> Any:
    if within is None or isinstance(within, Window):
        return within
    if isinstance(within, tuple):
        return {"from": within[0], "to": within[1]}
    return dict(within)


def _criterion(kind: str, **fields: Any) -> Any:
    data = {"kind": kind, **{k: v for k, v in fields.items() if v is not None}}
    if "within" in data:
        data["within"] = _window(data["within"])
    model = {
        "diagnosis": DiagnosisCriterion,
        "procedure": ProcedureCriterion,
        "lab": LabCriterion,
        "medication": MedicationCriterion,
        "any_of": AnyOfCriterion,
    }[kind]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserError(validation_message(exc, f"{kind} criterion")) from None


def diagnosis(
    *codes: str,
    diagnosis_type: str | Sequence[str] | None = None,
    within: Any = None,
    min_count: int = 1,
) -> DiagnosisCriterion:
    """A diagnosis criterion, e.g. ``diagnosis("DE11", within=("-10y", "0d"))``."""
    return _criterion(
        "diagnosis",
        codes=list(codes),
        diagnosis_type=diagnosis_type,
        within=within,
        min_count=min_count,
    )


def procedure(*codes: str, within: Any = None, min_count: int = 1) -> ProcedureCriterion:
    """A procedure criterion on SKS procedure code prefixes."""
    return _criterion("procedure", codes=list(codes), within=within, min_count=min_count)


def lab(
    *npu: str,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    within: Any = None,
    min_count: int = 1,
) -> LabCriterion:
    """A laboratory criterion, e.g. ``lab("NPU27300", above=53, within=("-365d", "0d"))``."""
    return _criterion(
        "lab",
        npu=list(npu),
        above=above,
        at_least=at_least,
        below=below,
        at_most=at_most,
        within=within,
        min_count=min_count,
    )


def medication(*atc: str, within: Any = None, min_count: int = 1) -> MedicationCriterion:
    """A medication criterion on ATC prefixes, e.g. ``medication("A10B")``."""
    return _criterion("medication", atc=list(atc), within=within, min_count=min_count)


def any_of(*criteria: Any) -> AnyOfCriterion:
    """Holds when one of the given event criteria holds."""
    return _criterion("any_of", criteria=list(criteria))


class CohortBuilder:
    """The YAML format as chained calls; ``build()`` validates exactly like the loader::

    Cohort.builder("t2d_vejle", index_date=date(2026, 11, 1)).age(50, 70)
        .municipality("Vejle").include(diagnosis("DE11"))
        .include(lab("NPU27300", above=53, within=("-365d", "0d"))).build()
    """

    def __init__(
        self,
        name: str,
        *,
        index_date: date | str = "today",
        title: str = "",
        description: str = "",
    ) -> None:
        self._data: dict[str, Any] = {
            "name": name,
            "index_date": index_date,
            "title": title,
            "description": description,
            "include": [],
            "exclude": [],
        }

    def index_date(self, day: date | str) -> CohortBuilder:
        self._data["index_date"] = day
        return self

    def age(
        self, min: int | None = None, max: int | None = None, *, match: str = "inside"
    ) -> CohortBuilder:
        self._data["age"] = {"min": min, "max": max, "match": match}
        return self

    def sex(self, *values: str) -> CohortBuilder:
        self._data["sex"] = list(values)
        return self

    def municipality(self, *codes_or_names: str) -> CohortBuilder:
        self._data["municipality"] = list(codes_or_names)
        return self

    def alive_at_index(self, flag: bool = True) -> CohortBuilder:
        self._data["alive_at_index"] = flag
        return self

    def include(self, *criteria: Any) -> CohortBuilder:
        self._data["include"].extend(criteria)
        return self

    def exclude(self, *criteria: Any) -> CohortBuilder:
        self._data["exclude"].extend(criteria)
        return self

    def build(self) -> Cohort:
        return cohort_from_mapping(self._data, f"cohort {self._data['name']!r}")


def criteria_of(cohort: Cohort) -> Iterable[tuple[str, Any]]:
    """Every criterion with its field path, e.g. ``("include[1]", LabCriterion(...))``."""
    for section in ("include", "exclude"):
        for i, criterion in enumerate(getattr(cohort, section)):
            yield f"{section}[{i}]", criterion


__all__ = [
    "AGE_BANDS",
    "AgeRange",
    "AnyOfCriterion",
    "Cohort",
    "CohortBuilder",
    "DiagnosisCriterion",
    "LabCriterion",
    "MedicationCriterion",
    "ProcedureCriterion",
    "Window",
    "any_of",
    "as_cohort",
    "cohort_from_mapping",
    "diagnosis",
    "lab",
    "load_cohort",
    "medication",
    "parse_offset",
    "procedure",
    "shift",
]
