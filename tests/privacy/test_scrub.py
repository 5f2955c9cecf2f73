"""Free-text scrubbing: CPR, phone numbers, register names; engines agree; audit counts."""

from __future__ import annotations

import random

import duckdb
import polars as pl
import pytest

from regionlab.codelists import load
from regionlab.privacy.scrub import (
    CPR_TOKEN,
    NAME_TOKEN,
    PHONE_TOKEN,
    find_identifier_shapes,
    name_list,
    register_names,
    scrub_column,
    scrub_series,
    scrub_sql,
    scrub_text,
)

NAMES = ["Søren", "Østergaard", "Åse", "Ærbø", "Anne-Marie", "Anne", "Hansen", "Bo", "O'Neil"]


@pytest.mark.parametrize(
    "text",
    [
        "cpr 010190-1234.",
        "cpr 0101901234.",
        "cpr 010190 1234.",
        "CPR-nr.:010190-1234,",
        "(3202991234)",  # an impossible date is still removed: it is someone's typo'd CPR
    ],
)
def test_cpr_forms_are_scrubbed(text: str) -> None:
    out = scrub_text(text)
    assert CPR_TOKEN in out
    assert not any(ch.isdigit() for ch in out)


@pytest.mark.parametrize(
    "phone",
    [
        "23456789",
        "2345 6789",
        "23 45 67 89",
        "+45 23456789",
        "+4523456789",
        "+45 2345 6789",
        "+45 23 45 67 89",
        "0045 2345 6789",
        "004523456789",
    ],
)
def test_phone_formats_are_scrubbed(phone: str) -> None:
    out = scrub_text(f"Ring på tlf. {phone} efter kl. 8.")
    assert out == f"Ring på tlf. {PHONE_TOKEN} efter kl. 8."


@pytest.mark.parametrize(
    "text",
    [
        "Hb 7.3 mmol/l, K 4,1",
        "Indlagt 2024-01-05 kl. 14:30, udskrevet 2024-01-09 12:00:00.",
        "HbA1c 53 mmol/mol; NPU27300; DE119; ATC A10BA02",
        "Kontakt K000000123, prøve 12345678 (starter med 1)",
        "Kontonummer 123456789012 og 12345678901",
        "05.01.2024 og 5/1-24",
        "bo alene, anne har ringet, hansen-vej",  # lower-case words that equal names
        "Sørensenske og Hansenvej og Annette",  # longer words containing names
    ],
)
def test_no_false_positives(text: str) -> None:
    assert scrub_text(text, NAMES) == text


def test_names_with_danish_letters_whole_words() -> None:
    text = "Pt. Søren Østergaard og Åse Ærbø. ANNE-MARIE HANSEN, Anne-Marie, O'Neil; Bo bor alene."
    assert scrub_text(text, NAMES) == (
        "Pt. [NAVN] [NAVN] og [NAVN] [NAVN]. [NAVN] [NAVN], [NAVN], [NAVN]; [NAVN] bor alene."
    )
    assert scrub_text("Østergaards bil", NAMES) == "[NAVN] bil"  # a possessive is still a name
    assert scrub_text("xSøren Sørenx _Åse", NAMES) == "xSøren Sørenx _Åse"


def _all_engines(text: str, names: list[str]) -> str:
    """Scrub with the Python reference, DuckDB and polars; they must agree."""
    expected = scrub_text(text, names)
    con = duckdb.connect()
    assert con.execute(f"SELECT {scrub_sql('?', names)}", [text]).fetchone() == (expected,)
    assert scrub_series(pl.Series("t", [text]), names).to_list() == [expected]
    return expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "0101901234,0202902345,0303903456 23456789/34567890 Anne Hansen Bo",
            "[CPR],[CPR],[CPR] [TELEFON]/[TELEFON] [NAVN] [NAVN] [NAVN]",
        ),
        ("23456789\n+45 34567890\n0045 45678901", "[TELEFON]\n[TELEFON]\n[TELEFON]"),
        ("Hansen,Anne-Marie,Åse", "[NAVN],[NAVN],[NAVN]"),
        ("0101901234,23 45 67 89 12", "[CPR],[TELEFON] 12"),
        ("Søren\ue000Hansen 2345\ue0006789", "SørenHansen [TELEFON]"),  # stray marks removed
        ("Anne", "[NAVN]"),
        ("", ""),
    ],
)
def test_adjacent_identifiers_and_all_engines(text: str, expected: str) -> None:
    assert _all_engines(text, NAMES) == expected


def test_name_list_from_frame_and_register() -> None:
    frame = pl.DataFrame(
        {"first_name": ["Åse", "Bo", None, "X"], "last_name": ["Hansen", "Ærbø", "Ib", None]}
    )
    names = name_list(frame)
    assert set(names) == {"Åse", "ÅSE", "Bo", "BO", "Hansen", "HANSEN", "Ærbø", "ÆRBØ", "Ib", "IB"}
    assert names[0] in {"Hansen", "HANSEN"}  # longest first
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE persons AS SELECT * FROM frame")
    known = register_names(con, "persons")
    assert list(known.all) == names
    assert set(known.first) == {"Åse", "Bo"} and set(known.last) == {"Hansen", "Ærbø", "Ib"}


_FILLER = (
    "patienten har været indlagt med smerter i brystet og får metformin 500 mg "
    "dagligt HbA1c 53 mmol/mol kl. 7.3 2024-01-05 bo alene, ringer 12345678 sørensen"
)


def _notes(n: int, names: list[str], seed: int = 17) -> list[str | None]:
    rng = random.Random(seed)
    words = _FILLER.split()
    seps = [" ", ", ", ",", ". ", "\n", "(", ")", "/", ""]
    notes: list[str | None] = []
    for _ in range(n):
        parts = [rng.choice(words) for _ in range(rng.randrange(5, 30))]
        for _ in range(rng.randrange(0, 6)):
            kind = rng.random()
            if kind < 0.4:
                item = rng.choice(names)
            elif kind < 0.6:
                digits = f"{rng.randrange(10**10):010d}"
                item = rng.choice(
                    [digits, digits[:6] + "-" + digits[6:], digits[:6] + " " + digits[6:]]
                )
            elif kind < 0.8:
                d = f"{rng.randrange(20_000_000, 100_000_000)}"
                item = rng.choice(["", "+45 ", "0045", "+45"]) + rng.choice(
                    [d, d[:4] + " " + d[4:], " ".join(d[i : i + 2] for i in range(0, 8, 2))]
                )
            else:
                item = f"{rng.randrange(10 ** rng.randrange(1, 13))}"
            parts.insert(rng.randrange(len(parts) + 1), item)
        notes.append("".join(p + rng.choice(seps) for p in parts))
    notes.append(None)
    notes.append("")
    return notes


def _notes_table(con: duckdb.DuckDBPyConnection, notes: list[str | None]) -> None:
    frame = pl.DataFrame(
        {"note_id": range(len(notes)), "text": notes}, schema={"note_id": pl.Int64, "text": pl.Utf8}
    )
    con.register("frame", frame)
    con.execute("CREATE TABLE notes AS SELECT note_id, text, 'x' AS other FROM frame")
    con.unregister("frame")


def test_engines_agree_with_the_python_reference() -> None:
    names = NAMES + ["Mette", "Jørgensen", "Lærke", "Møller"]
    notes = _notes(1_500, names)
    expected = [scrub_text(t, names) for t in notes]
    con = duckdb.connect()
    _notes_table(con, notes)
    via_sql = [
        r[0]
        for r in con.execute(
            f"SELECT {scrub_sql('text', names)} FROM notes ORDER BY note_id"
        ).fetchall()
    ]
    assert via_sql == expected
    # polars path, with deleted rows (rowid gaps) and tiny batches
    con.execute("DELETE FROM notes WHERE note_id % 97 = 5")
    scrub_column(con, "notes", "text", names, batch_rows=64)
    rows = con.execute("SELECT note_id, text, other FROM notes ORDER BY note_id").fetchall()
    assert len(rows) == len([i for i in range(len(notes)) if i % 97 != 5])
    assert all(text == expected[i] and other == "x" for i, text, other in rows)
    # the generated notes really contained all kinds
    joined = "".join(t for t in expected if t)
    assert all(token in joined for token in (CPR_TOKEN, PHONE_TOKEN, NAME_TOKEN))


def test_engines_agree_with_the_register_names_list() -> None:
    names = load("names")["name"].to_list()
    assert len(names) > 100
    notes = _notes(300, names, seed=23)
    expected = [scrub_text(t, names) for t in notes]
    got = scrub_series(pl.Series("text", notes), names).to_list()
    assert got == expected
    con = duckdb.connect()
    _notes_table(con, notes)
    sql = f"SELECT {scrub_sql('text', names)} FROM notes ORDER BY note_id"
    assert [r[0] for r in con.execute(sql).fetchall()] == expected
    assert sum(t.count(NAME_TOKEN) for t in expected if t) > 200


def test_scrub_into_a_new_column_keeps_the_source(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "staging.duckdb"))
    _notes_table(con, ["Åse ringer 23456789", None])
    scrub_column(con, "notes", "text", ["Åse"], out_column="text_scrubbed")
    assert con.execute("SELECT text, text_scrubbed FROM notes ORDER BY note_id").fetchall() == [
        ("Åse ringer 23456789", "[NAVN] ringer [TELEFON]"),
        (None, None),
    ]
    with pytest.raises(ValueError, match="no column"):
        scrub_column(con, "notes", "tekst", ["Åse"])


def test_find_identifier_shapes_counts_only() -> None:
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE t AS SELECT * FROM (VALUES
            (1, 'Søren ringede fra 23456789', 'HbA1c 53', 7.3),
            (2, 'cpr 010190-1234 og Åse', 'ok', 8.1),
            (3, 'intet her 2024-01-05', NULL, NULL),
            (4, 'tlf +45 23 45 67 89, cpr 0101901234', 'Hansen', 1.0)
        ) v(i, note, comment, value)"""
    )
    found = find_identifier_shapes(con, "t", ["note", "comment", "value"], NAMES)
    zero = dict.fromkeys(("cpr", "phone", "email", "address", "name", "person"), 0)
    assert found == {
        "note": zero | {"cpr": 2, "phone": 2, "name": 2},
        "comment": zero | {"name": 1},
        "value": zero,
    }
    assert all(isinstance(n, int) for kinds in found.values() for n in kinds.values())
    assert find_identifier_shapes(con, "t", ["note"])["note"]["name"] == 0  # no names given
    scrub_column(con, "t", "note", NAMES)
    scrub_column(con, "t", "comment", NAMES)
    after = find_identifier_shapes(con, "t", ["note", "comment"], NAMES)
    assert all(n == 0 for kinds in after.values() for n in kinds.values())


def test_zero_padded_ids_are_not_cpr_shaped() -> None:
    import duckdb

    from regionlab.privacy.scrub import find_identifier_shapes

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('S0000012345'), ('0101901234')) v(x)")
    counts = find_identifier_shapes(con, "t", ["x"])
    assert counts["x"]["cpr"] == 1
    assert scrub_text("prøve S0000012345") == "prøve S0000012345"
