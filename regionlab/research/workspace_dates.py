"""Dates in a workspace: shifted per person or coarsened, so projects cannot be joined on them.

Re-keying person keys per project is not enough: two projects' workspaces
joined on ``(start_time, end_time, department_code)`` or ``(npu_code, value,
sampled_at)`` matched most persons one-to-one (issue 19), because an exact
timestamp is an identifier. The permit's :class:`DateProtection
<regionlab.research.permits.DateProtection>` says what happens instead:

* ``shift``: every date and timestamp of a person moves by the same whole
  number of days, ``HMAC(derive_key(project key, "date-shift"), person key)``
  mapped onto ``[-max, -1] ∪ [1, max]``. Within a person intervals (length of
  stay, days to readmission, time of day) are exact; between projects the same
  person's shifts are independent, so an exact match survives with
  probability ``1 / (2 * max)``.
* ``coarsen``: the same per-person shift, then ``date_trunc`` to the granted
  day, week (Monday) or month. Truncating the true dates was not enough: exact
  values plus the true month linked 599 of 600 persons one-to-one between two
  projects. Shifted first, two projects' buckets agree for a person with
  probability about ``granularity / (2 * max_shift_days)``: with the shift's
  default window (182 days) month buckets still linked 66 of 600 correctly,
  which is why a coarsening permit's window is at least 100 units of its granularity
  (:data:`regionlab.research.permits.MIN_COARSEN_SHIFT_DAYS`). Intervals are kept
  to the granularity only, so exact lengths of stay do not link either.

Only products about persons are touched; aggregates keep their dates.
"""

from __future__ import annotations

import duckdb

from regionlab.privacy.keys import PseudonymKey, derive_key
from regionlab.privacy.pseudonym import hmac_params, hmac_sql
from regionlab.research.permits import DateProtection
from regionlab.sql import quote_ident

#: The temp table of per-person shifts: ``person_key`` (source key) → ``days``.
SHIFT_TABLE = "__rl_date_shift"
DATE_TYPES = frozenset({"date", "timestamp"})


def shift_key(project_key: PseudonymKey) -> PseudonymKey:
    return derive_key(project_key, "date-shift")


def install_shifts(
    con: duckdb.DuckDBPyConnection, persons_sql: str, project_key: PseudonymKey, max_days: int
) -> None:
    """``temp.main.__rl_date_shift``: the shift in days of every person of ``persons_sql``.

    Computed in DuckDB (vectorised HMAC, the key bound as parameters), once per person.
    """
    digest = hmac_sql("person_key")
    span = 2 * max_days
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SHIFT_TABLE} AS "
        f"SELECT person_key, CASE WHEN m < {max_days} THEN m - {max_days} "
        f"ELSE m - {max_days} + 1 END AS days FROM ("
        f"SELECT person_key, CAST('0x' || substr({digest}, 1, 12) AS BIGINT) % {span} AS m "
        f"FROM ({persons_sql}))",
        hmac_params(shift_key(project_key)),
    )


def column_sql(name: str, column_type: str, protection: DateProtection, *, shifted: bool) -> str:
    """The SELECT expression for one granted column (source alias ``s``, shifts alias ``sh``)."""
    ref = f"s.{quote_ident(name)}"
    if column_type not in DATE_TYPES or not shifted:
        return f"{ref} AS {quote_ident(name)}"
    if column_type == "date":
        expr = f"{ref} + CAST(sh.days AS INTEGER)"
    else:
        expr = f"{ref} + to_days(CAST(sh.days AS INTEGER))"
    if protection.method == "coarsen":
        unit = protection.granularity or "day"
        expr = f"CAST(date_trunc('{unit}', {expr}) AS {column_type.upper()})"
    return f"{expr} AS {quote_ident(name)}"


__all__ = ["DATE_TYPES", "SHIFT_TABLE", "column_sql", "install_shifts", "shift_key"]
