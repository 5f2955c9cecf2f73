"""Dated deliveries: split each extract over K files and append block after block.

Files are appended per block, so a run never holds more than one block of events
in memory, and the bytes do not depend on how blocks are grouped into chunks
(each Parquet row group is one block). Defect labels are produced here because a
malformed line's label is its line number in the file it lands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from regionlab.synth.defects import DEFECT

DATE_FMT = "%Y-%m-%d"
TIME_FMT = "%Y-%m-%d %H:%M:%S"
LABEL_COLUMNS = ("file", "record_id", "defect")


def delivery_dates(as_of: date, deliveries: int) -> list[date]:
    """The first file covers up to as_of - 60 days; the rest step evenly to as_of."""
    if deliveries <= 1:
        return [as_of]
    first = as_of - timedelta(days=60)
    return [first + timedelta(days=round(60 * i / (deliveries - 1))) for i in range(deliveries)]


@dataclass
class ExtractWriter:
    """Appends one extract's blocks to its dated files and collects defect labels."""

    root: Path
    system: str
    extract: str
    fmt: str  # csv | jsonl | parquet
    dates: list[date]
    columns: tuple[str, ...]
    id_column: str
    date_column: str | None  # None: everything goes to the single as_of file
    schema: pa.Schema | None = None
    rows: list[int] = field(init=False)
    labels: list[pl.DataFrame] = field(default_factory=list)
    _parquet: dict[int, pq.ParquetWriter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows = [0] * len(self.dates)
        folder = self.root / self.system / self.extract
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(len(self.dates)):
            self.path(i).unlink(missing_ok=True)

    def path(self, i: int) -> Path:
        return (
            self.root / self.system / self.extract
            / f"{self.extract}_{self.dates[i].isoformat()}.{self.fmt}"
        )  # fmt: skip

    def relpath(self, i: int) -> str:
        return self.path(i).relative_to(self.root).as_posix()

    def write(self, frame: pl.DataFrame) -> None:
        """Append a block (contract columns plus ``_defect``) to the right files."""
        if self.date_column is None or len(self.dates) == 1:
            target = np.zeros(frame.height, dtype=np.int64)
        else:
            day = frame[self.date_column].cast(pl.Date).to_numpy().astype("datetime64[D]")
            bounds = np.array(self.dates[:-1], dtype="datetime64[D]")
            target = np.searchsorted(bounds, day, side="left")
        for i in range(len(self.dates)):
            part = frame.filter(pl.Series(target == i))
            if part.height:
                self._append(i, part)

    def _append(self, i: int, part: pl.DataFrame) -> None:
        data = part.select(self.columns)
        defect = part[DEFECT].to_numpy()
        first_line = self.rows[i] + (2 if self.fmt == "csv" else 1)  # CSV: header is line 1
        line_no = first_line + np.arange(part.height)
        malformed = defect == "malformed_line"
        if self.fmt == "parquet":
            self._write_parquet(i, data)
        else:
            self._write_text(i, data, malformed)
        self.rows[i] += part.height
        labelled = np.flatnonzero(defect != None)  # noqa: E711 - numpy object compare
        if labelled.size:
            ids = data[self.id_column].to_numpy()[labelled].astype(str)
            lines = np.char.add("line:", line_no[labelled].astype(str))
            self.labels.append(
                pl.DataFrame(
                    {
                        "file": np.full(labelled.size, self.relpath(i)),
                        "record_id": np.where(malformed[labelled], lines, ids),
                        "defect": defect[labelled].astype(str),
                    }
                )
            )

    def _write_text(self, i: int, data: pl.DataFrame, malformed: np.ndarray) -> None:
        if self.fmt == "csv":
            text = data.write_csv(
                include_header=self.rows[i] == 0,
                datetime_format=TIME_FMT,
                date_format=DATE_FMT,
                line_terminator="\n",
            )
        else:
            temporal = [
                pl.col(c).dt.strftime(TIME_FMT if data.schema[c] == pl.Datetime else DATE_FMT)
                for c in data.columns
                if data.schema[c] in (pl.Date, pl.Datetime)
                or isinstance(data.schema[c], pl.Datetime)
            ]
            text = data.with_columns(temporal).write_ndjson()
        if malformed.any():
            lines = text.split("\n")
            offset = 1 if (self.fmt == "csv" and self.rows[i] == 0) else 0
            rows = np.flatnonzero(malformed)
            broken = self._break(data[rows.tolist()], [lines[offset + r] for r in rows])
            for r, line in zip(rows.tolist(), broken, strict=True):  # only the few broken rows
                lines[offset + r] = line
            text = "\n".join(lines)
        with self.path(i).open("a", encoding="utf-8", newline="") as fh:
            fh.write(text)

    def _break(self, rows: pl.DataFrame, lines: list[str]) -> list[str]:
        """Malformed versions: CSV with too few or too many fields, JSON cut short."""
        if self.fmt == "jsonl":
            return [line[: max(1, len(line) // 2)] for line in lines]
        keep = max(1, len(self.columns) // 2)
        short = rows.select(self.columns[:keep]).write_csv(
            include_header=False, datetime_format=TIME_FMT, date_format=DATE_FMT,
            line_terminator="\n",
        ).split("\n")  # fmt: skip
        return [
            short[k] if k % 2 == 0 else line + ',"ekstra felt",' for k, line in enumerate(lines)
        ]

    def _write_parquet(self, i: int, data: pl.DataFrame) -> None:
        table = data.to_arrow().cast(self.schema) if self.schema else data.to_arrow()
        if i not in self._parquet:
            self._parquet[i] = pq.ParquetWriter(self.path(i), table.schema)
        self._parquet[i].write_table(table)

    def close(self) -> list[tuple[str, int]]:
        """Finish the files (an empty delivery still gets its header/schema)."""
        for i in range(len(self.dates)):
            if self.fmt == "parquet":
                writer = self._parquet.pop(i, None)
                if writer is None:
                    pq.write_table(self.schema.empty_table(), self.path(i))
                else:
                    writer.close()
            elif self.rows[i] == 0:
                header = ",".join(self.columns) + "\n" if self.fmt == "csv" else ""
                self.path(i).write_text(header, encoding="utf-8")
        return [(self.relpath(i), self.rows[i]) for i in range(len(self.dates))]
