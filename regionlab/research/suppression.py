"""Small-cell suppression for feasibility counts shown outside a workspace.

A feasibility answer is a table of unique-person counts, optionally split by one
to three dimensions (sex, age band, municipality, ...). Small counts identify
people, so counts 1..threshold-1 are hidden (*primary* suppression). Hiding them
is not enough when totals are published too: a row with one hidden cell and a
known total gives the cell away by subtraction. *Secondary* suppression hides
further cells until no hidden value can be recovered, and the result is
verified rather than trusted.

Model. The table is extended with a ``TOTAL`` level on every dimension, so a
1-D table has its grand total, a 2-D table its row, column and grand totals and
a 3-D table every two-way and one-way margin plus the grand total. Every
*line* (fix all indices but one; the line runs over the levels of that
dimension and ends in its total) is one linear relation ``sum(cells) = total``.
Margins are ordinary entries: a small margin is itself primary-suppressed.
Margins are computed as sums of the cells, which is right only when every
person falls in exactly one cell (dimensions are per-person attributes).

Zeros. Following common SDC practice (tau-Argus, sdcTable), zeros are shown
as 0 by default: a true empty cell says that *nobody* is there, which discloses
nothing about a person. Zeros are never picked as secondary suppressions
(hiding a known-empty cell protects nothing) except as a last resort. The price
is that an intruder knows every hidden entry is at least 1; the interval check
(:func:`disclosed_by_bounds`) uses exactly that knowledge, which is why two
hidden 1s alone in a line with a known total are caught and fixed. Passing
``structural_zeros`` switches to the strict mode: only those zeros (empty by
definition, e.g. men with cervical cancer) are shown, every other zero is
treated as sensitive and hidden like a small count.

Display. Every hidden entry, primary or secondary, shows the same marker
(``"<5"`` for the default threshold). A separate marker for secondary cells
would tell an intruder which hidden cells are small and narrow their intervals.
The per-entry flag is kept for the platform (audit, explanations) and is left
out of :meth:`SuppressedTable.to_frame` unless asked for.

The secondary heuristic is simple and deterministic: close every line with a
single hidden entry by hiding the smallest shown non-zero entry of that line
(inner cells before margins on ties), repeat until stable, then verify with a
complete linear-algebra check (a hidden entry is derivable iff its unit vector
lies in the row space of the relations restricted to hidden entries; this also
catches combinations the one-line rule misses, e.g. a hidden cell bridging two
otherwise protected blocks) and, when SciPy is importable, an LP interval
check. Any failure hides one more entry near the exposed one and the loop runs
again; it stops because every round hides at least one more entry.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from regionlab.errors import UserError

TOTAL = "Total"
"""Level used in cell keys for the margin along a dimension."""

DEFAULT_THRESHOLD = 5
MAX_DIMENSIONS = 3
COUNT_COLUMN = "count"

Flag = Literal["primary", "secondary"]
CellKey = tuple[Hashable, ...]

_NONE, _PRIMARY, _SECONDARY = 0, 1, 2
_FLAG_NAMES: dict[int, Flag | None] = {_NONE: None, _PRIMARY: "primary", _SECONDARY: "secondary"}
_NULL_TOL = 1e-8
_LP_TRIALS = 5  # candidates tried per bounds repair before taking the smallest


def hidden_marker(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The string shown instead of a hidden count, e.g. ``"<5"``."""
    return f"<{threshold}"


def _check_threshold(threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise UserError(
            f"Suppression threshold must be a whole number of at least 1, got {threshold!r}; "
            f"use the default {DEFAULT_THRESHOLD} unless a permit says otherwise."
        )


def suppress_count(n: int, threshold: int = DEFAULT_THRESHOLD) -> int | str:
    """Primary suppression of one stand-alone count (no totals to protect)."""
    _check_threshold(threshold)
    if n < 0:
        raise UserError("A person count cannot be negative; check the query that produced it.")
    return hidden_marker(threshold) if 1 <= n < threshold else int(n)


@dataclass(frozen=True)
class Cell:
    """One displayed entry: an inner cell or a margin (a key containing ``TOTAL``)."""

    key: CellKey
    display: int | str
    flag: Flag | None
    margin: bool

    @property
    def hidden(self) -> bool:
        return self.flag is not None


@dataclass(frozen=True)
class SuppressedTable:
    """A suppressed count table with all its margins; holds no hidden value.

    ``cells`` are in C order of the extended shape (each dimension's levels
    followed by ``TOTAL``), which is what the checkers rely on.
    """

    dimensions: tuple[str, ...]
    levels: tuple[tuple[Hashable, ...], ...]
    threshold: int
    cells: tuple[Cell, ...]
    zeros_hidden: bool = False
    """True when some hidden entry may be 0 (strict zero mode or last-resort
    fallback); the interval check then cannot assume hidden entries are >= 1."""

    @property
    def extended_shape(self) -> tuple[int, ...]:
        return tuple(len(lv) + 1 for lv in self.levels)

    @property
    def marker(self) -> str:
        return hidden_marker(self.threshold)

    def cell(self, *key: Hashable) -> Cell:
        """Look an entry up by its dimension values (``TOTAL`` for a margin)."""
        if len(key) == 1 and isinstance(key[0], tuple):
            key = key[0]
        if len(key) != len(self.dimensions):
            raise KeyError(f"key needs {len(self.dimensions)} values, got {len(key)}")
        flat = 0
        for value, lv in zip(key, self.levels, strict=True):
            pos = len(lv) if value == TOTAL else lv.index(value)
            flat = flat * (len(lv) + 1) + pos
        return self.cells[flat]

    def hidden_keys(self, flag: Flag | None = None) -> list[CellKey]:
        """Keys of hidden entries, optionally only those with one flag."""
        return [c.key for c in self.cells if c.hidden and (flag is None or c.flag == flag)]

    def audit_shape(self) -> dict[str, int]:
        """The only facts about an answer that may be written to the audit log."""
        return {"cells": len(self.cells), "hidden": sum(c.hidden for c in self.cells)}

    def to_frame(self, *, include_flags: bool = False) -> pl.DataFrame:
        """One row per entry: dimensions (as text), ``count`` (null when hidden), ``display``.

        Flags are off by default because they tell primary (small) hidden
        cells from secondary ones; include them only for the platform's own use.
        """
        data: dict[str, list[object]] = {
            d: [str(c.key[i]) for c in self.cells] for i, d in enumerate(self.dimensions)
        }
        data[COUNT_COLUMN] = [None if c.hidden else c.display for c in self.cells]
        data["display"] = [str(c.display) for c in self.cells]
        schema: dict[str, pl.DataType] = {d: pl.Utf8() for d in self.dimensions}
        schema |= {COUNT_COLUMN: pl.Int64(), "display": pl.Utf8()}
        if include_flags:
            data["suppression"] = [c.flag for c in self.cells]
            schema["suppression"] = pl.Utf8()
        return pl.DataFrame(data, schema=schema)


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class _Grid:
    """The linear structure of an extended table: lines and their relations."""

    shape: tuple[int, ...]
    lines: tuple[np.ndarray, ...]  # flat entry indices; the last one is the line's total
    relations: np.ndarray  # lines x entries, +1 for cells, -1 for the total
    margin: np.ndarray  # bool per flat entry
    entry_lines: tuple[tuple[int, ...], ...]  # line ids through each entry

    @classmethod
    def build(cls, extended: tuple[int, ...]) -> _Grid:
        size = int(np.prod(extended))
        idx = np.arange(size).reshape(extended)
        lines: list[np.ndarray] = []
        for k in range(len(extended)):
            lines.extend(np.moveaxis(idx, k, -1).reshape(-1, extended[k]))
        relations = np.zeros((len(lines), size))
        through: list[list[int]] = [[] for _ in range(size)]
        for i, line in enumerate(lines):
            relations[i, line[:-1]] = 1.0
            relations[i, line[-1]] = -1.0
            for e in line:
                through[e].append(i)
        margin = np.zeros(extended, dtype=bool)
        for k, n in enumerate(extended):
            margin[(slice(None),) * k + (n - 1,)] = True
        return cls(
            shape=extended,
            lines=tuple(lines),
            relations=relations,
            margin=margin.ravel(),
            entry_lines=tuple(tuple(t) for t in through),
        )


def _hidden_relations(grid: _Grid, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of hidden entries and the relations restricted to them."""
    h = np.flatnonzero(hidden)
    return h, grid.relations[:, h]


def _null_basis(sub: np.ndarray) -> np.ndarray:
    """Rows spanning the null space of ``sub`` (all solutions of ``sub @ x = 0``)."""
    if sub.shape[1] == 0:
        return np.zeros((0, 0))
    sub = sub[np.abs(sub).sum(axis=1) > 0]
    if sub.shape[0] == 0:
        return np.eye(sub.shape[1])
    _, s, vt = np.linalg.svd(sub, full_matrices=True)
    rank = int((s > 1e-9 * max(1.0, float(s[0]))).sum())
    return vt[rank:]


def _derivable(grid: _Grid, hidden: np.ndarray) -> np.ndarray:
    """Flat indices of hidden entries whose exact value follows from the shown ones.

    A hidden entry is determined iff every solution of the homogeneous system
    (relations restricted to hidden entries) is zero there, i.e. iff its
    column vanishes in a basis of that null space.
    """
    h, sub = _hidden_relations(grid, hidden)
    if h.size == 0:
        return h
    null = _null_basis(sub)
    return h[np.linalg.norm(null, axis=0) < _NULL_TOL]


def _fixing_candidates(
    grid: _Grid, hidden: np.ndarray, target: int, candidates: list[int]
) -> list[int]:
    """Candidates whose hiding makes the derivable ``target`` undetermined.

    With ``target`` determined, hiding entry ``c`` frees it iff ``S x = -a_c``
    is solvable and its solutions have ``x_target != 0`` (all solutions agree
    there). One SVD answers this for every candidate at once.
    """
    h, sub = _hidden_relations(grid, hidden)
    u, s, vt = np.linalg.svd(sub, full_matrices=False)
    rank = int((s > 1e-9 * max(1.0, float(s[0]) if s.size else 1.0)).sum())
    u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    rhs = -grid.relations[:, candidates]
    coef = u.T @ rhs
    residual = np.linalg.norm(rhs - u @ coef, axis=0)
    x_target = vt[:, int(np.flatnonzero(h == target)[0])] @ (coef / s[:, None])
    ok = (residual < 1e-7) & (np.abs(x_target) > 1e-7)
    return [c for c, good in zip(candidates, ok, strict=True) if good]


def _scipy_linprog():  # type: ignore[no-untyped-def]
    try:
        from scipy.optimize import linprog
    except ImportError:  # pragma: no cover - scipy comes with the stack today
        return None
    return linprog


def _pinned(grid: _Grid, values: np.ndarray, hidden: np.ndarray, lower: float) -> np.ndarray | None:
    """Hidden entries an intruder can pin to one value, knowing hidden >= ``lower``.

    The feasible set is the polyhedron ``{x >= lower : relations hold}``. A
    coordinate is constant on it iff it is constant on its affine hull, which
    is the relations plus the *implicit equalities* (coordinates at their bound
    in every solution). One homogenised LP finds those (max sum y subject to
    S z = b' t, z >= y, 0 <= y <= 1, t >= 1, with z = x - lower); with them
    fixed, the null-space check finds the rest. ``values`` need only be right
    on shown entries. ``None`` when SciPy is missing.
    """
    linprog = _scipy_linprog()
    if linprog is None:
        return None
    h, sub = _hidden_relations(grid, hidden)
    if h.size == 0:
        return h
    shown = ~hidden
    rhs = -grid.relations[:, shown] @ values[shown].astype(float) - sub.sum(axis=1) * lower
    keep = np.abs(sub).sum(axis=1) > 0
    sub, rhs = sub[keep], rhs[keep]
    n = h.size
    # variables: z (n), y (n), t (1); minimise -sum(y)
    cost = np.concatenate([np.zeros(n), -np.ones(n), [0.0]])
    a_eq = np.hstack([sub, np.zeros_like(sub), -rhs[:, None]])
    a_ub = np.hstack([-np.eye(n), np.eye(n), np.zeros((n, 1))])  # y - z <= 0
    bounds = [(0, None)] * n + [(0, 1)] * n + [(1, None)]
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(n),
        A_eq=a_eq,
        b_eq=np.zeros(a_eq.shape[0]),
        bounds=bounds,
        method="highs",
    )
    if res.status != 0:  # inconsistent published table: nothing sensible to say
        return h[:0]
    at_bound = res.x[n : 2 * n] < 0.5
    rest = hidden.copy()
    rest[h[at_bound]] = False
    return np.union1d(h[at_bound], _derivable(grid, rest))


# --------------------------------------------------------------------- building


def _levels_of(
    counts: pl.DataFrame, dims: Sequence[str], levels: Mapping[str, Sequence[Hashable]] | None
) -> list[list[Hashable]]:
    out: list[list[Hashable]] = []
    for d in dims:
        present = counts[d].unique().to_list()
        if levels is not None and d in levels:
            declared = list(levels[d])
            if len(set(declared)) != len(declared):
                raise UserError(f"levels[{d!r}] lists a value twice; list each level once.")
            unknown = [v for v in present if v not in declared]
            if unknown:
                raise UserError(
                    f"Column {d!r} has {len(unknown)} value(s) not in levels[{d!r}]; "
                    "add them to the declared levels or fix the query."
                )
            lv = declared
        else:
            try:
                lv = sorted(present)
            except TypeError:
                lv = sorted(present, key=str)
        if TOTAL in lv:
            raise UserError(
                f"Column {d!r} has a level named {TOTAL!r}, which is reserved for margins; "
                "rename that level."
            )
        out.append(lv)
    return out


def _inner_array(
    counts: pl.DataFrame,
    dimensions: Sequence[str],
    levels: Mapping[str, Sequence[Hashable]] | None,
) -> tuple[tuple[str, ...], list[list[Hashable]], np.ndarray]:
    dims = tuple(dimensions)
    if not 1 <= len(dims) <= MAX_DIMENSIONS:
        raise UserError(
            f"Feasibility tables take 1 to {MAX_DIMENSIONS} dimensions, got {len(dims)}; "
            "drop dimensions or ask for several tables."
        )
    if len(set(dims)) != len(dims):
        raise UserError("A dimension is listed twice; list each dimension once.")
    missing = [c for c in (*dims, COUNT_COLUMN) if c not in counts.columns]
    if missing:
        raise UserError(f"Count table lacks column(s) {missing}; it needs {[*dims, COUNT_COLUMN]}.")
    if not counts[COUNT_COLUMN].dtype.is_integer():
        raise UserError(
            f"Column {COUNT_COLUMN!r} must hold whole numbers, got {counts[COUNT_COLUMN].dtype}."
        )
    for c in (*dims, COUNT_COLUMN):
        nulls = counts[c].null_count()
        if nulls:
            raise UserError(
                f"Column {c!r} has {nulls} empty value(s); label missing categories "
                "(e.g. 'ukendt') before suppression."
            )
    if (counts[COUNT_COLUMN] < 0).any():
        raise UserError(f"Column {COUNT_COLUMN!r} has negative counts; check the query.")
    if counts.select(dims).is_duplicated().any():
        raise UserError(
            f"Count table has more than one row for the same {list(dims)} combination; "
            "aggregate it first."
        )
    lvls = _levels_of(counts, dims, levels)
    codes = [
        counts[d].replace_strict(lv, list(range(len(lv))), return_dtype=pl.Int64).to_numpy()
        for d, lv in zip(dims, lvls, strict=True)
    ]
    inner = np.zeros(tuple(len(lv) for lv in lvls), dtype=np.int64)
    inner[tuple(codes)] = counts[COUNT_COLUMN].to_numpy()
    return dims, lvls, inner


def _with_margins(inner: np.ndarray) -> np.ndarray:
    ext = np.zeros(tuple(n + 1 for n in inner.shape), dtype=np.int64)
    ext[tuple(slice(0, n) for n in inner.shape)] = inner
    for k, n in enumerate(inner.shape):
        head = (slice(None),) * k
        ext[head + (n,)] = ext[head + (slice(0, n),)].sum(axis=k)
    return ext


def _flat_index(key: CellKey, lvls: list[list[Hashable]]) -> int:
    flat = 0
    for value, lv in zip(key, lvls, strict=True):
        pos = len(lv) if value == TOTAL else lv.index(value)
        flat = flat * (len(lv) + 1) + pos
    return flat


# --------------------------------------------------------------------- secondary


class _Secondary:
    """State of the secondary-suppression loop over one table."""

    def __init__(
        self, grid: _Grid, values: np.ndarray, hidden: np.ndarray, structural: np.ndarray
    ) -> None:
        self.grid = grid
        self.values = values
        self.hidden = hidden.copy()
        self.primary = hidden.copy()
        self.structural = structural
        self.zeros_hidden = bool((hidden & (values == 0)).any())

    @property
    def lower(self) -> float:
        return 0.0 if self.zeros_hidden else 1.0

    def candidates(self, line_ids: Iterable[int]) -> list[int]:
        """Shown entries of the lines that may be hidden, best first.

        Smallest count first (least information lost), inner cells before
        margins, then position; zeros only when nothing else is left.
        """
        entries = {int(e) for i in line_ids for e in self.grid.lines[i]}
        free = [e for e in entries if not self.hidden[e] and not self.structural[e]]
        nonzero = [e for e in free if self.values[e] > 0]
        pool = nonzero or free
        return sorted(pool, key=lambda e: (self.values[e], self.grid.margin[e], e))

    def hide(self, entry: int) -> None:
        self.hidden[entry] = True
        if self.values[entry] == 0:
            self.zeros_hidden = True

    def close_singletons(self) -> None:
        """Give every line with exactly one hidden entry a second one, until stable."""
        changed = True
        while changed:
            changed = False
            for i, line in enumerate(self.grid.lines):
                if int(self.hidden[line].sum()) == 1:
                    cands = self.candidates([i])
                    if cands:
                        self.hide(cands[0])
                        changed = True

    def exposed(self) -> tuple[int, str] | None:
        """The first hidden entry an intruder could pin down, and how."""
        derivable = _derivable(self.grid, self.hidden)
        if derivable.size:
            return int(derivable[0]), "exact"
        pinned = _pinned(self.grid, self.values, self.hidden, self.lower)
        if pinned is not None:
            pinned = pinned[self.primary[pinned]]
            if pinned.size:
                return int(pinned[0]), "bounds"
        return None

    def protect(self, entry: int, how: str) -> bool:
        """Hide one more entry on a line through ``entry``; prefer one that frees it."""
        cands = self.candidates(self.grid.entry_lines[entry])
        if not cands:
            return False
        if how == "exact":
            fixing = _fixing_candidates(self.grid, self.hidden, entry, cands)
            self.hide(fixing[0] if fixing else cands[0])
            return True
        for c in cands[:_LP_TRIALS]:
            trial = self.hidden.copy()
            trial[c] = True
            lower = 0.0 if self.zeros_hidden or self.values[c] == 0 else 1.0
            pinned = _pinned(self.grid, self.values, trial, lower)
            if pinned is not None and entry not in pinned:
                self.hide(c)
                return True
        self.hide(cands[0])
        return True

    def run(self) -> None:
        while True:
            self.close_singletons()
            found = self.exposed()
            if found is None:
                return
            if not self.protect(*found):
                # Nothing left to hide next to it: hide everything that is not
                # structural. A fully hidden table discloses nothing.
                for e in np.flatnonzero(~self.hidden & ~self.structural):
                    self.hide(int(e))
                return


# ------------------------------------------------------------------------ public


def suppress(
    counts: pl.DataFrame,
    dimensions: Sequence[str],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    structural_zeros: Iterable[CellKey | Hashable] | None = None,
    levels: Mapping[str, Sequence[Hashable]] | None = None,
    secondary: bool = True,
) -> SuppressedTable:
    """Suppress a count table (one row per cell: dimension columns + ``count``).

    Cells absent from ``counts`` are zero. ``levels`` fixes the order of a
    dimension's levels and adds levels with no rows (e.g. a municipality with no
    patients); otherwise levels are sorted. ``structural_zeros`` (cell keys,
    ``TOTAL`` allowed) switches to strict zero mode, see the module docstring.
    ``secondary=False`` gives the primary-only table; it exists to test the
    checkers and must never be shown to anyone.
    """
    _check_threshold(threshold)
    dims, lvls, inner = _inner_array(counts, dimensions, levels)
    values = _with_margins(inner).ravel()
    grid = _Grid.build(tuple(n + 1 for n in inner.shape))

    structural = np.zeros(values.size, dtype=bool)
    if structural_zeros is not None:
        for raw in structural_zeros:
            key = raw if isinstance(raw, tuple) else (raw,)
            try:
                flat = _flat_index(key, lvls)
            except ValueError as exc:
                raise UserError(
                    f"structural_zeros names a cell {len(key)}-key that is not in the table; "
                    "use values that occur in the dimension columns (or TOTAL)."
                ) from exc
            if values[flat] != 0:
                raise UserError(
                    "structural_zeros names a cell whose count is not 0; a structural zero "
                    "must be empty by definition — remove it from the list."
                )
            structural[flat] = True

    primary = (values >= 1) & (values < threshold)
    if structural_zeros is not None:
        primary |= (values == 0) & ~structural

    hidden = primary.copy()
    zeros_hidden = bool((primary & (values == 0)).any())
    if secondary and primary.any():
        loop = _Secondary(grid, values, primary, structural)
        loop.run()
        hidden, zeros_hidden = loop.hidden, loop.zeros_hidden

    flags = np.where(primary, _PRIMARY, np.where(hidden, _SECONDARY, _NONE))
    marker = hidden_marker(threshold)
    ext_levels = [[*lv, TOTAL] for lv in lvls]
    cells = tuple(
        Cell(
            key=tuple(ext_levels[k][i] for k, i in enumerate(pos)),
            display=marker if hidden[flat] else int(values[flat]),
            flag=_FLAG_NAMES[int(flags[flat])],
            margin=bool(grid.margin[flat]),
        )
        for flat, pos in enumerate(np.ndindex(*grid.shape))
    )
    return SuppressedTable(
        dimensions=dims,
        levels=tuple(tuple(lv) for lv in lvls),
        threshold=threshold,
        cells=cells,
        zeros_hidden=zeros_hidden,
    )


def _published(table: SuppressedTable) -> tuple[_Grid, np.ndarray, np.ndarray]:
    """Rebuild what an intruder sees: the relations, shown values, hidden mask."""
    grid = _Grid.build(table.extended_shape)
    if len(table.cells) != int(np.prod(grid.shape)):
        raise ValueError("table cells do not match its levels")
    hidden = np.array([c.hidden for c in table.cells], dtype=bool)
    values = np.array([0 if c.hidden else int(c.display) for c in table.cells], dtype=np.int64)
    return grid, values, hidden


def can_derive(table: SuppressedTable) -> list[CellKey]:
    """Keys of hidden entries whose exact value follows from the shown entries.

    Uses only what is published (shown values and which entries are hidden).
    Complete for linear derivation: it finds a cell alone in a line with a
    known total, chains of such steps across dimensions, and combinations of
    several lines that no single line reveals.
    """
    grid, _, hidden = _published(table)
    return [table.cells[int(e)].key for e in _derivable(grid, hidden)]


def disclosed_by_bounds(table: SuppressedTable) -> list[CellKey] | None:
    """Keys of primary cells an intruder can pin to one value using bounds.

    The intruder knows the relations, the shown values and that hidden entries
    are >= 1 (>= 0 if ``table.zeros_hidden``). ``None`` means SciPy is missing
    and nothing was checked.
    """
    grid, values, hidden = _published(table)
    lower = 0.0 if table.zeros_hidden else 1.0
    found = _pinned(grid, values, hidden, lower)
    if found is None:
        return None
    return [table.cells[int(e)].key for e in found if table.cells[int(e)].flag == "primary"]
