"""Entry point: generate every source extract of the synthetic region from a seed.

Persons are generated in fixed blocks of ``BLOCK`` persons, each with its own
random generator derived from (seed, block number). Because neither the random
streams nor the file layout depend on ``chunk_size``, any chunking writes the same
bytes; ``chunk_size`` only sets how often progress is reported. Memory stays at
one block of events however many persons are asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import BaseModel

from regionlab.errors import UserError
from regionlab.synth import cohorts, contacts, diagnoses, labs, medication, notes, population
from regionlab.synth.cpr_numbers import UsedNumbers
from regionlab.synth.defects import DEFECT, SPECS, inject
from regionlab.synth.initiatives import INITIATIVE_COLUMNS, generate_initiatives
from regionlab.synth.writer import LABEL_COLUMNS, ExtractWriter, delivery_dates

BLOCK = 10_000
SYSTEMS = ("cpr", "lpr3", "labka", "fmk", "epj", "initiativer")

CONTACT_SCHEMA = pa.schema(
    [
        ("contact_id", pa.string()),
        ("cpr", pa.string()),
        ("hospital_code", pa.string()),
        ("department_code", pa.string()),
        ("contact_type", pa.string()),
        ("priority", pa.string()),
        ("start_time", pa.timestamp("us")),
        ("end_time", pa.timestamp("us")),
    ]
)

# extract -> (system, format, columns, id column, date column deciding the delivery)
EXTRACTS: dict[str, tuple[str, str, tuple[str, ...], str, str | None]] = {
    "persons": ("cpr", "csv", population.PERSON_COLUMNS, "cpr", None),
    "contacts": ("lpr3", "parquet", contacts.CONTACT_COLUMNS, "contact_id", "start_time"),
    "diagnoses": ("lpr3", "csv", ("diagnosis_id", "contact_id", "cpr", "diagnosis_code",
                                  "diagnosis_type", "registered_at"), "diagnosis_id",
                  "registered_at"),
    "procedures": ("lpr3", "csv", ("procedure_id", "contact_id", "cpr", "procedure_code",
                                   "performed_at"), "procedure_id", "performed_at"),
    "lab_results": ("labka", "csv", ("sample_id", "cpr", "npu_code", "analysis_name", "value",
                                     "unit", "reference_low", "reference_high", "sampled_at",
                                     "department_code"), "sample_id", "sampled_at"),
    "prescriptions": ("fmk", "csv", ("prescription_id", "cpr", "atc_code", "drug_name",
                                     "strength", "start_date", "end_date"), "prescription_id",
                      "start_date"),
    "notes": ("epj", "jsonl", ("note_id", "cpr", "contact_id", "note_type", "written_at",
                               "author_role", "text"), "note_id", "written_at"),
    "initiatives": ("initiativer", "csv", INITIATIVE_COLUMNS, "initiative_id", None),
}  # fmt: skip


class FileEntry(BaseModel):
    """One written file and its number of data rows (lines for text, rows for Parquet)."""

    path: str
    rows: int


class Manifest(BaseModel):
    """What a run wrote and with which arguments; saved as ``manifest.json``."""

    seed: int
    persons: int
    defect_rate: float
    as_of: date
    deliveries: int
    delivery_dates: list[date]
    files: list[FileEntry]
    defects: dict[str, int]


def _check(persons: int, defect_rate: float, deliveries: int, chunk_size: int) -> None:
    if persons < 1:
        raise UserError(f"persons must be at least 1 (got {persons}); pass --persons 5000")
    if not 0.0 <= defect_rate <= 0.5:
        raise UserError(
            f"defect rate must be between 0 and 0.5 (got {defect_rate}); "
            "pass e.g. --defect-rate 0.01"
        )
    if deliveries < 1:
        raise UserError(f"deliveries must be at least 1 (got {deliveries}); pass --deliveries 3")
    if chunk_size < 1:
        raise UserError(f"chunk size must be at least 1 (got {chunk_size})")


def _owned(out: Path) -> list[Path]:
    """The files a previous run wrote, as its manifest lists them (nothing without one)."""
    manifest = out / "manifest.json"
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    root = out.resolve()
    owned = []
    for entry in listed:
        path = (out / str(entry.get("path", ""))).resolve() if isinstance(entry, dict) else None
        if path is not None and path.is_relative_to(root) and path != root:
            owned.append(path)
    return owned


def _clean(out: Path) -> None:
    """Remove a previous run's files: exactly those its manifest lists, and the manifest.

    ``var/sources/`` is also where stewards and source systems deliver; a file synthesis
    did not write (a steward's extract beside the synthetic ones) is never touched. Folders
    emptied by the removal go too, a folder holding anything else stays.
    """
    owned = _owned(out)
    for path in owned:
        path.unlink(missing_ok=True)
    for folder in sorted({p.parent for p in owned}, key=lambda p: len(p.parts), reverse=True):
        while folder != out.resolve() and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    (out / "manifest.json").unlink(missing_ok=True)


def _block(
    b: int,
    n: int,
    seed: int,
    defect_rate: float,
    as_of: date,
    events_start: date,
    used: UsedNumbers,
    counters: dict[str, int],
) -> dict[str, pl.DataFrame]:
    """All extracts of one block of persons, defects injected."""
    rng = np.random.default_rng([seed, b])
    persons = population.generate_persons(n, rng, as_of, events_start, used)
    has = cohorts.assign_conditions(persons, rng)
    win = contacts.windows(persons, events_start, as_of)
    frames: dict[str, pl.DataFrame] = {}
    frames["contacts"] = contacts.generate_contacts(persons, has, win, rng, counters["contacts"])
    con = frames["contacts"]
    frames["diagnoses"] = diagnoses.generate_diagnoses(con, has, rng, counters["diagnoses"])
    frames["procedures"] = diagnoses.generate_procedures(con, rng, counters["procedures"])
    frames["lab_results"] = labs.generate_labs(con, persons, has, rng, counters["lab_results"])
    frames["prescriptions"] = medication.generate_prescriptions(
        persons, has, win, con, rng, counters["prescriptions"]
    )
    dia = frames["diagnoses"]
    a_codes = dia.filter(pl.col("diagnosis_type") == "A")["diagnosis_code"].to_numpy()
    frames["notes"] = notes.generate_notes(con, persons, a_codes, rng, counters["notes"])
    for name, frame in frames.items():
        counters[name] += frame.height

    # invalid CPRs in the register only for persons without events
    with_events = pl.concat([con["cpr"], frames["prescriptions"]["cpr"]]).unique()
    eventless = (~persons["cpr"].is_in(with_events.implode())).to_numpy()
    frames["persons"] = persons
    out: dict[str, pl.DataFrame] = {}
    for name in ("persons", *[k for k in frames if k != "persons"]):
        eligible = eventless if name == "persons" else None
        out[name] = inject(frames[name], SPECS[name], defect_rate, rng, as_of, eligible)
    return out


def generate(
    out: Path,
    persons: int,
    seed: int = 42,
    defect_rate: float = 0.01,
    as_of: date = date(2026, 11, 1),
    deliveries: int = 3,
    chunk_size: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Write all extracts, ``defects.csv`` and ``manifest.json`` under ``out``.

    ``progress(done, total)`` is called after each chunk of persons.
    """
    _check(persons, defect_rate, deliveries, chunk_size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)
    events_start = date(as_of.year - 5, 1, 1)
    dates = delivery_dates(as_of, deliveries)
    writers: dict[str, ExtractWriter] = {}
    for name, (system, fmt, columns, id_col, date_col) in EXTRACTS.items():
        writers[name] = ExtractWriter(
            root=out,
            system=system,
            extract=name,
            fmt=fmt,
            dates=dates if date_col else [as_of],
            columns=columns,
            id_column=id_col,
            date_column=date_col,
            schema=CONTACT_SCHEMA if fmt == "parquet" else None,
        )

    used = UsedNumbers()
    counters = dict.fromkeys(EXTRACTS, 0)
    blocks_per_chunk = max(1, -(-chunk_size // BLOCK))
    n_blocks = -(-persons // BLOCK)
    for b in range(n_blocks):
        n = min(BLOCK, persons - b * BLOCK)
        frames = _block(b, n, seed, defect_rate, as_of, events_start, used, counters)
        for name, frame in frames.items():
            writers[name].write(frame)
        if progress and ((b + 1) % blocks_per_chunk == 0 or b + 1 == n_blocks):
            progress(min(persons, (b + 1) * BLOCK), persons)

    initiatives = generate_initiatives(as_of).with_columns(pl.lit(None, pl.Utf8).alias(DEFECT))
    writers["initiatives"].write(initiatives)

    files: list[FileEntry] = []
    labels: list[pl.DataFrame] = []
    for writer in writers.values():
        files += [FileEntry(path=p, rows=r) for p, r in writer.close()]
        labels += writer.labels
    label_frame = (
        pl.concat(labels) if labels else pl.DataFrame(schema=dict.fromkeys(LABEL_COLUMNS, pl.Utf8))
    )
    label_frame.write_csv(out / "defects.csv", line_terminator="\n")
    files.append(FileEntry(path="defects.csv", rows=label_frame.height))
    # The manifest lists every file this run owns; the next run removes exactly those.
    counts = label_frame.group_by("defect").len().sort("defect")
    manifest = Manifest(
        seed=seed,
        persons=persons,
        defect_rate=defect_rate,
        as_of=as_of,
        deliveries=deliveries,
        delivery_dates=dates,
        files=files,
        defects=dict(zip(counts["defect"].to_list(), counts["len"].to_list(), strict=True)),
    )
    (out / "manifest.json").write_text(
        json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    _restrict(out)
    return manifest


def _restrict(out: Path) -> None:
    """The extracts hold CPR numbers, names and notes: owner and group only (0640, 0750)."""
    out.chmod(0o750)
    for path in out.rglob("*"):
        path.chmod(0o750 if path.is_dir() else 0o640)
