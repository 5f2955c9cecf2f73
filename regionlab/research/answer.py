"""A feasibility answer as it crosses the service boundary: displayed values only.

The service builds it from a suppressed :class:`~regionlab.research.feasibility.FeasibilityResult`
and the client parses it back, so the CLI, notebooks and the catalogue site all
read one model. It holds no hidden count and not even which hidden cells are
primary (small) and which secondary: every hidden entry is the marker (``"<5"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import polars as pl

    from regionlab.research.feasibility import FeasibilityResult


class AnswerCell(BaseModel):
    """One entry of a stratified answer: an inner cell or a margin (a key holding ``Total``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: tuple[str, ...]
    display: int | str
    """The count, or the hidden marker."""
    margin: bool = False

    @property
    def hidden(self) -> bool:
        return isinstance(self.display, str)


class FeasibilityAnswer(BaseModel):
    """What a researcher sees of one feasibility query."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cohort_name: str
    cohort_hash: str
    snapshot_id: int
    dimensions: tuple[str, ...] = ()
    threshold: int = Field(ge=1)
    total: int | str
    """The number of unique persons, or the hidden marker (e.g. ``"<5"``)."""
    cells: tuple[AnswerCell, ...] = ()
    """Every entry with its margins, in table order; empty without dimensions."""
    notes: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    audit_entry_id: str
    seconds: float = 0.0
    rounding: int = Field(1, ge=1)
    """Shown counts are multiples of this (the service's policy; 1: exact)."""
    user: str
    """Who the service counted this for (the token's name)."""

    @property
    def marker(self) -> str:
        # suppression.hidden_marker's text, without importing numpy and polars on the
        # researcher's client path (tests/research pin that the two agree).
        return f"<{self.threshold}"

    def cell(self, *key: str) -> AnswerCell:
        """An entry by its dimension values (``"Total"`` for a margin)."""
        wanted = tuple(str(k) for k in key)
        for c in self.cells:
            if c.key == wanted:
                return c
        raise KeyError(wanted)

    def to_frame(self) -> pl.DataFrame:
        """One row per entry (``count`` null where hidden), like the in-process result had."""
        import polars as pl

        if not self.dimensions:
            hidden = isinstance(self.total, str)
            return pl.DataFrame(
                {"count": [None if hidden else self.total], "display": [str(self.total)]},
                schema={"count": pl.Int64(), "display": pl.Utf8()},
            )
        data: dict[str, list[object]] = {
            d: [c.key[i] for c in self.cells] for i, d in enumerate(self.dimensions)
        }
        data["count"] = [None if c.hidden else c.display for c in self.cells]
        data["display"] = [str(c.display) for c in self.cells]
        schema: dict[str, pl.DataType] = {d: pl.Utf8() for d in self.dimensions}
        schema |= {"count": pl.Int64(), "display": pl.Utf8()}
        return pl.DataFrame(data, schema=schema)

    @classmethod
    def from_result(cls, result: FeasibilityResult, *, user: str) -> FeasibilityAnswer:
        """The displayed part of a suppressed result (flags and levels stay behind)."""
        cells: tuple[AnswerCell, ...] = ()
        if result.table is not None:
            cells = tuple(
                AnswerCell(
                    key=tuple(str(k) for k in c.key),
                    display=c.display,
                    margin=c.margin,
                )
                for c in result.table.cells
            )
        return cls(
            cohort_name=result.cohort_name,
            cohort_hash=result.cohort_hash,
            snapshot_id=result.snapshot_id,
            dimensions=result.dimensions,
            threshold=result.threshold,
            total=result.total,
            cells=cells,
            notes=result.notes,
            products=result.products,
            audit_entry_id=result.audit_entry_id,
            seconds=result.seconds,
            rounding=result.rounding,
            user=user,
        )


__all__ = ["AnswerCell", "FeasibilityAnswer"]
