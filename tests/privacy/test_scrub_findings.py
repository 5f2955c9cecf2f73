"""Regression tests for issue 15, finding 2: what was published verbatim with the gate passing.

Each note of the finding, about Lene Bruun (CPR 080788-2228, Fynsvej 82, 5000
Odense C, tlf. 92352188), must be scrubbed by every engine, and counted by the
audit's identifier gate when it reaches ``staged`` unscrubbed.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from regionlab.privacy.names import KnownNames
from regionlab.privacy.person_rules import Identity
from regionlab.privacy.scrub import (
    IdentityTable,
    find_identifier_shapes,
    scrub_column,
    scrub_series,
    scrub_sql,
    scrub_text,
)

REGISTER = KnownNames.of(["Lene", "Mette", "Jens"], ["Bruun", "Hansen", "Holm"])
LENE = Identity("Lene", "Bruun", "Fynsvej 82, 1. th.", "5000")

#: (note as published before the fix, the identifying part that must go)
FINDINGS = [
    ("cpr 08.07.88-2228", "08.07.88-2228"),
    ("080788 – 2228", "080788 – 2228"),
    ("080788/2228", "080788/2228"),
    ("Tlf. 92 35 2188", "92 35 2188"),
    ("9235-2188", "9235-2188"),
    ("lene bruun ses", "lene bruun"),
    ("Lenes datter ringede", "Lenes"),
    ("Bruuns mand", "Bruuns"),
    ("lene.bruun@gmail.com", "lene.bruun@gmail.com"),
    ("adresse Fynsvej 82", "Fynsvej 82"),
]


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@pytest.mark.parametrize(("note", "identifying"), FINDINGS)
def test_finding_is_scrubbed_by_every_engine(note: str, identifying: str) -> None:
    expected = scrub_text(note, REGISTER, LENE)
    assert expected is not None
    # nothing of the identifier is left (tokens are upper case words in brackets)
    assert _alnum(identifying) not in _alnum(expected.replace("[", " ").replace("]", " "))
    for part in identifying.replace("@", " ").replace(".", " ").split():
        if len(part) >= 2 and part.isalpha():
            assert part.lower() not in expected.lower()
    # the register-wide rules alone already catch it, in polars and in DuckDB as well
    register_only = scrub_text(note, REGISTER)
    assert register_only == expected
    assert scrub_series(pl.Series([note]), REGISTER).to_list() == [expected]
    con = duckdb.connect()
    assert con.execute(f"SELECT {scrub_sql('?', REGISTER)}", [note]).fetchone() == (expected,)


def _staged(note: str) -> duckdb.DuckDBPyConnection:
    """``staged`` holding one unscrubbed note about Lene, and her identity table."""
    con = duckdb.connect()
    con.execute("CREATE TABLE staged AS SELECT 'k1' AS person_key, ? AS text", [note])
    con.execute(
        "CREATE TABLE ids AS SELECT 'k1' AS person_key, 'Lene' AS first_name, "
        "'Bruun' AS last_name, 'Fynsvej 82, 1. th.' AS address, '5000' AS postcode"
    )
    return con


def _gate(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return find_identifier_shapes(
        con, "staged", ["text"], REGISTER, IdentityTable("ids"), person_columns=["text"]
    )["text"]


@pytest.mark.parametrize(("note", "identifying"), FINDINGS)
def test_finding_blocks_the_identifier_gate(note: str, identifying: str) -> None:
    con = _staged(note)
    counts = _gate(con)
    assert sum(counts.values()) >= 1
    assert identifying not in str(counts)
    scrub_column(con, "staged", "text", REGISTER, identities=IdentityTable("ids"))
    after = _gate(con)
    assert after == dict.fromkeys(after, 0)


@pytest.mark.parametrize(
    ("note", "identifying"),
    [
        ("lene ringede selv", "lene"),  # the person's first name alone, lower case
        ("L.B. er mobiliseret", "L.B."),  # her initials
        ("bor på fynsvej alene", "fynsvej"),  # her street, no number
        ("Flyttet til 5000 Odense C", "5000"),  # her postcode before a town
    ],
)
def test_the_persons_own_identifiers_need_the_person(note: str, identifying: str) -> None:
    """Forms that are only identifying for the person the note is about."""
    assert identifying in (scrub_text(note, REGISTER) or "")
    assert identifying not in (scrub_text(note, REGISTER, LENE) or "")
    assert _gate(_staged(note))["person"] == 1


def test_doses_and_other_peoples_streets_are_kept() -> None:
    note = "Fragmin 5000 IE x 1. Bor ved Hansens Plads. Høj BT 142/88 d. 12.03.2024."
    assert scrub_text(note, REGISTER, LENE) == note
