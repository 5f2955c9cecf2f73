"""Person keys: DuckDB HMAC equals Python's hmac, per distinct CPR, stable, re-keyable."""

from __future__ import annotations

import hashlib
import hmac
import random

import duckdb
import polars as pl
import pytest

from regionlab.privacy.identifiers import install_cpr_macros, normalise_cpr
from regionlab.privacy.keys import PseudonymKey, derive_key
from regionlab.privacy.pseudonym import (
    add_person_key,
    hmac_hex,
    hmac_params,
    hmac_sql,
    person_key,
    pseudonymise_keys,
)


def _reference(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def _cprs(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(
            f"{rng.randrange(1, 29):02d}{rng.randrange(1, 13):02d}{rng.randrange(100):02d}"
            f"{rng.randrange(10_000):04d}"
        )
    return sorted(out)


def _table(con: duckdb.DuckDBPyConnection, name: str, values: list[str | None]) -> None:
    frame = pl.DataFrame(
        {"row_id": range(len(values)), "cpr": values}, schema={"row_id": pl.Int64, "cpr": pl.Utf8}
    )
    con.register("frame", frame)
    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
    con.unregister("frame")


def test_person_key_matches_python_hmac(key: PseudonymKey) -> None:
    expected = _reference(key.secret, "0101901234")
    assert person_key("010190-1234", key) == expected
    assert person_key("0101901234", key) == expected
    with pytest.raises(ValueError) as info:
        person_key("12345", key)
    assert "12345" not in str(info.value)


@pytest.mark.parametrize("secret_length", [16, 32, 63, 64, 65, 200])
def test_sql_hmac_equals_python_for_any_key_length(secret_length: int) -> None:
    key = PseudonymKey(secret=bytes((7 * i + 3) % 256 for i in range(secret_length)))
    messages = ["", "0101901234", "æøå ÆØÅ", "\\x41\\x00 backslash", "a" * 200, "'quote'"]
    con = duckdb.connect()
    con.execute("CREATE TABLE m AS SELECT unnest(?) AS msg", [messages])
    rows = con.execute(f"SELECT msg, {hmac_sql('msg')} FROM m", hmac_params(key)).fetchall()
    assert len(rows) == len(messages)
    for msg, digest in rows:
        assert digest == _reference(key.secret, msg) == hmac_hex(key, msg)


def test_add_person_key_equals_python_on_many_values(key: PseudonymKey) -> None:
    rng = random.Random(11)
    cprs = _cprs(3_000)
    # each person several times, in both shapes, plus invalid shapes and NULLs
    values: list[str | None] = []
    for c in cprs:
        for _ in range(rng.randrange(1, 5)):
            values.append(c if rng.random() < 0.5 else f"{c[:6]}-{c[6:]}")
    values += ["12345", "0101011234x", None, "", "010190 x 1234"]
    rng.shuffle(values)
    con = duckdb.connect()
    _table(con, "lab results", values)  # a name that needs quoting

    stats = add_person_key(con, "lab results", key)

    rows = con.execute('SELECT cpr, person_key FROM "lab results" ORDER BY row_id').fetchall()
    assert [r[0] for r in rows] == values  # order and the CPR column untouched
    for cpr, pk in rows:
        norm = normalise_cpr(cpr)
        assert pk == (None if norm is None else _reference(key.secret, norm))
    assert stats.rows == len(values)
    assert stats.distinct_keys == len(cprs)
    assert stats.rows_without_key == 5


def test_distinct_path_equals_per_row_path(key: PseudonymKey) -> None:
    cprs = _cprs(500, seed=5) * 3
    con = duckdb.connect()
    _table(con, "t", cprs)
    add_person_key(con, "t", key, out_column="pk")
    install_cpr_macros(con)
    differing = con.execute(
        f"SELECT count(*) FROM t WHERE pk IS DISTINCT FROM {hmac_sql('cpr_normalise(cpr)')}",
        hmac_params(key),
    ).fetchone()
    assert differing == (0,)


def test_keys_are_stable_across_connections_and_differ_per_key(
    key: PseudonymKey, other_key: PseudonymKey, tmp_path
) -> None:
    cprs = _cprs(200, seed=9)
    results = []
    for k in (key, key, other_key):
        con = duckdb.connect(str(tmp_path / f"db{len(results)}.duckdb"))
        _table(con, "t", cprs)
        add_person_key(con, "t", k)
        results.append(con.execute("SELECT person_key FROM t ORDER BY row_id").fetchall())
        con.close()
    assert results[0] == results[1]
    assert all(a != b for a, b in zip(results[0], results[2], strict=True))


def test_add_person_key_refuses_bad_columns(key: PseudonymKey) -> None:
    con = duckdb.connect()
    _table(con, "t", ["0101901234"])
    with pytest.raises(ValueError, match="no column 'personnummer'"):
        add_person_key(con, "t", key, cpr_column="personnummer")
    add_person_key(con, "t", key)
    with pytest.raises(ValueError, match="already has a column 'person_key'"):
        add_person_key(con, "t", key)


def test_add_person_key_on_a_qualified_table_and_other_column_name(key: PseudonymKey) -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute(
        "CREATE TABLE staging.persons AS SELECT * FROM (VALUES ('010190-1234', 'a'), "
        "('0202024321', 'b')) v(\"raw\", x)"
    )
    add_person_key(con, "staging.persons", key, cpr_column="raw", out_column="__rl_value")
    got = con.execute('SELECT "__rl_value" FROM staging.persons ORDER BY x').fetchall()
    assert got == [(person_key("0101901234", key),), (person_key("0202024321", key),)]
    # no helper tables left behind
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)


def test_pseudonymise_keys_gives_project_pseudonyms(key: PseudonymKey) -> None:
    cprs = _cprs(300, seed=13)
    con = duckdb.connect()
    _table(con, "a", cprs * 2)
    add_person_key(con, "a", key)
    con.execute("CREATE TABLE b AS SELECT * FROM a")
    main_keys = [r[0] for r in con.execute("SELECT person_key FROM a ORDER BY row_id").fetchall()]

    project_a, project_b = derive_key(key, "projekt-a"), derive_key(key, "projekt-b")
    stats = pseudonymise_keys(con, "a", "person_key", project_a)
    pseudonymise_keys(con, "b", "person_key", project_b, out_column="pseudonym")

    in_place = [r[0] for r in con.execute("SELECT person_key FROM a ORDER BY row_id").fetchall()]
    assert in_place == [_reference(project_a.secret, k) for k in main_keys]
    assert stats.distinct_keys == 300 and stats.rows_without_key == 0

    b_rows = con.execute("SELECT person_key, pseudonym FROM b ORDER BY row_id").fetchall()
    assert [r[0] for r in b_rows] == main_keys  # source column kept with out_column
    assert [r[1] for r in b_rows] == [_reference(project_b.secret, k) for k in main_keys]
    # the same person: equal within a project, unrelated across projects
    assert not set(in_place) & {r[1] for r in b_rows}
    assert len(set(in_place)) == 300
