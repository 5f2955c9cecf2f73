"""Synthetic CPR numbers that follow the real structure.

A CPR number is ``DDMMYY-SSSS``. The 7th digit (first of SSSS) together with YY
fixes the century of birth; the last digit is odd for men and even for women.
Numbers issued before October 2007 satisfy the modulus-11 check; since then the
CPR office also issues numbers that fail it, so downstream validation must not
require modulus 11. We generate both kinds on purpose so that mistake shows up.

Everything is vectorised over numpy arrays; a number is handled as the integer
``DDMMYYSSSS`` (unique, because the century is implied by SSSS and YY).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

#: Persons born on or after this day may hold numbers without modulus-11.
MOD11_DROPPED = date(2007, 10, 1)
_WEIGHTS = np.array([4, 3, 2, 7, 6, 5, 4, 3, 2, 1], dtype=np.int64)


def century_allowed(years: np.ndarray) -> np.ndarray:
    """(n, 10) mask: which 7th digits encode each birth year (the official table)."""
    y = years[:, None]
    d = np.arange(10)[None, :]
    low = (d <= 3) & (y >= 1900) & (y <= 1999)
    four_nine = ((d == 4) | (d == 9)) & (((y >= 2000) & (y <= 2036)) | ((y >= 1937) & (y <= 1999)))
    five_eight = (d >= 5) & (d <= 8) & (((y >= 2000) & (y <= 2057)) | ((y >= 1858) & (y <= 1899)))
    return low | four_nine | five_eight


def birth_year(yy: np.ndarray, digit7: np.ndarray) -> np.ndarray:
    """Full birth year from YY and the 7th digit (inverse of ``century_allowed``)."""
    yy = np.asarray(yy)
    d = np.asarray(digit7)
    century = np.where(
        d <= 3,
        1900,
        np.where(
            (d == 4) | (d == 9),
            np.where(yy <= 36, 2000, 1900),
            np.where(yy <= 57, 2000, 1800),
        ),
    )
    return century + yy


def _digits(keys: np.ndarray) -> np.ndarray:
    """(n, 10) digit matrix of DDMMYYSSSS integers."""
    powers = 10 ** np.arange(9, -1, -1, dtype=np.int64)
    return (keys[:, None] // powers[None, :]) % 10


class UsedNumbers:
    """The numbers already handed out, so later blocks never reuse one.

    Kept as one sorted array: membership is a binary search and inserting a block
    is a single linear merge, both cheap at a million persons.
    """

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        if self.keys.size == 0:
            return np.zeros(keys.shape, dtype=bool)
        pos = np.searchsorted(self.keys, keys)
        pos = np.minimum(pos, self.keys.size - 1)
        return self.keys[pos] == keys

    def add(self, keys: np.ndarray) -> None:
        new = np.sort(keys)
        self.keys = np.insert(self.keys, np.searchsorted(self.keys, new), new)


def generate_keys(
    birth_dates: np.ndarray,
    male: np.ndarray,
    rng: np.random.Generator,
    used: UsedNumbers,
) -> np.ndarray:
    """Unique DDMMYYSSSS integers consistent with birth date, sex and issue rules.

    ``birth_dates`` is datetime64[D]. Persons born before ``MOD11_DROPPED`` get
    modulus-11 numbers; later ones get numbers that fail it.
    """
    n = birth_dates.shape[0]
    days = birth_dates.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    base = (dom * 10000 + months * 100 + years % 100) * 10000
    allowed = century_allowed(years)
    modern = days >= np.datetime64(MOD11_DROPPED)
    parity = np.where(male, 1, 0)

    keys = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(200):
        if todo.size == 0:
            break
        m = todo.size
        score = rng.random((m, 10))
        score[~allowed[todo]] = -1.0
        d7 = score.argmax(axis=1)
        d89 = rng.integers(0, 100, m)
        partial = base[todo] + d7 * 1000 + d89 * 10
        weighted = _digits(partial) @ _WEIGHTS
        need = (-weighted) % 11  # last digit that makes the sum divisible by 11
        last = rng.integers(0, 5, m) * 2 + parity[todo]
        # post-2007: any digit of the right parity, nudged off a modulus-11 hit
        last = np.where((weighted + last) % 11 == 0, (last + 2) % 10, last)
        ok_mod = (need <= 9) & (need % 2 == parity[todo])
        cand = np.where(modern[todo], partial + last, partial + need)
        good = np.where(modern[todo], True, ok_mod)
        good &= ~used.contains(cand)
        # duplicates inside this batch: keep the first occurrence
        _, first = np.unique(np.where(good, cand, -1 - np.arange(m)), return_index=True)
        keep = np.zeros(m, dtype=bool)
        keep[first] = True
        good &= keep
        keys[todo[good]] = cand[good]
        used.add(cand[good])
        todo = todo[~good]
    if todo.size:  # practically unreachable: ~100 free numbers per birth date and sex
        raise RuntimeError("could not allocate unique CPR numbers")
    return keys


def format_keys(keys: np.ndarray) -> pl.Series:
    """``DDMMYY-SSSS`` strings from DDMMYYSSSS integers."""
    s = pl.Series(keys).cast(pl.Utf8).str.zfill(10)
    return (s.str.slice(0, 6) + "-" + s.str.slice(6, 4)).alias("cpr")


def invalid_cprs(n: int, rng: np.random.Generator) -> pl.Series:
    """Strings that are not valid CPR numbers (bad day, bad month, too short, letters)."""
    frame = pl.DataFrame(
        {
            "kind": rng.integers(0, 4, n),
            "bad_day": rng.integers(32, 40, n),
            "bad_month": rng.integers(13, 20, n),
            "day": rng.integers(10, 29, n),
            "yy": rng.integers(0, 100, n),
            "tail": rng.integers(0, 10000, n),
            "short": rng.integers(10000, 100000, n),
        }
    )
    yy = pl.col("yy").cast(pl.Utf8).str.zfill(2)
    tail = pl.col("tail").cast(pl.Utf8).str.zfill(4)
    kind = pl.col("kind")
    expr = (
        pl.when(kind == 0)
        .then(pl.format("{}01{}-{}", pl.col("bad_day"), yy, tail))
        .when(kind == 1)
        .then(pl.format("{}{}{}-{}", pl.col("day"), pl.col("bad_month"), yy, tail))
        .when(kind == 2)
        .then(pl.col("short").cast(pl.Utf8))
        .otherwise(pl.format("AB{}99-{}", yy, tail))
    )
    return frame.select(expr.alias("cpr")).to_series()
