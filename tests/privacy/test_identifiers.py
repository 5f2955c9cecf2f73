"""One owner of CPR rules and identifier shapes, and every consumer agrees with it.

Before, six modules carried their own CPR pattern and disagreed: the catalogue's
value screen let ``010190 1234`` through while erasure requests treated it as a
CPR number. Now every consumer asks :mod:`regionlab.privacy.identifiers`, and
these tests show both that they agree on every way of writing a CPR number and
that no other module in the repository spells out a CPR or phone pattern.
"""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import polars as pl
import pytest

from catalog.safety import looks_like_values
from regionlab.erasure.requests import contains_cpr, parse_cprs
from regionlab.errors import UserError
from regionlab.privacy import identifiers as ids
from regionlab.privacy.scrub import CPR_TOKEN, find_identifier_shapes, scrub_text
from regionlab.research.audit_backends import SQLiteBackend
from regionlab.research.audit_store import AuditStore
from regionlab.research.output_check import check_output
from tests.leakscan import Identifiers, scan_text

REPO = Path(__file__).resolve().parents[2]

#: One person's CPR number as hurried people write it.
CPR_WRITTEN = [
    "010190-1234",
    "0101901234",
    "010190 1234",
    "010190–1234",
    "010190—1234",
    "010190 – 1234",
    "010190/1234",
    "010190.1234",
    "01.01.90-1234",
    "01.01.90 1234",
    "01-01-90-1234",
    "01/01/90-1234",
]


@pytest.mark.parametrize("written", CPR_WRITTEN)
def test_every_consumer_agrees_on_a_cpr_number(written: str, tmp_path: Path) -> None:
    """The old disagreement (safety missed ``010190 1234``, erasure took it) cannot come back."""
    assert ids.normalise_cpr(written) == "0101901234"
    assert ids.is_valid_cpr(written)
    text = f"ring om pt. {written} i morgen"
    assert ids.cprs_in_text(text) == ["0101901234"]
    # catalogue value screen, erasure requests and their parser
    assert looks_like_values(text)
    assert contains_cpr(text)
    assert parse_cprs([written], "request") == ("0101901234",)
    # the research audit store refuses it in a recorded field
    store = AuditStore(
        SQLiteBackend(tmp_path / "audit.sqlite"),
        mac_key_file=tmp_path / "mac.key",
        signing_key_file=tmp_path / "sign.key",
        checkpoints_dir=tmp_path / "checkpoints",
    )
    with pytest.raises(UserError, match="CPR"):
        store.record_event(user=f"u {written}", action="note", subject="s", details={})
    # research output check
    path = tmp_path / "r.csv"
    pl.DataFrame({"note": ["ok", text, "ok"], "n": [10, 12, 14]}).write_csv(path)
    assert any("CPR" in f.problem for f in check_output(path).findings)
    # leak scan of the tests, scrubber and the audit's identifier gate
    known = Identifiers(frozenset({"0101901234"}), frozenset(), frozenset())
    assert scan_text(text, known)["cpr"] == 1
    assert scrub_text(text) == f"ring om pt. {CPR_TOKEN} i morgen"
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT ? AS note", [text])
    assert find_identifier_shapes(con, "t", ["note"])["note"]["cpr"] == 1


def test_sql_candidates_match_python() -> None:
    texts = [f"a {w}, b 0202902345x" for w in CPR_WRITTEN] + ["ingen", "12.03.2024 kl. 14.30"]
    con = duckdb.connect()
    ids.install_cpr_macros(con)
    got = [
        con.execute("SELECT cpr_candidates(?)", [t]).fetchone()[0]  # type: ignore[index]
        for t in texts
    ]
    assert got == [ids.cprs_in_text(t) for t in texts]
    assert got[0] == ["0101901234", "0202902345"]
    assert got[-1] == []


@pytest.mark.parametrize(
    "phone",
    [
        "92352188",
        "92 35 21 88",
        "92-35-21-88",
        "92.35.21.88",
        "9235 2188",
        "9235-2188",
        "92 35 2188",
        "9235 21 88",
        "+45 92352188",
        "+4592352188",
        "+45 92 35 21 88",
        "+45-9235-2188",
        "0045 9235 2188",
        "004592352188",
        "(+45) 9235 2188",
    ],
)
def test_phone_groupings(phone: str) -> None:
    text = f"Tlf. {phone}, ring efter kl. 8."
    assert [text[s:e] for s, e in ids.PHONE.spans(text)] == [phone]


@pytest.mark.parametrize(
    "text",
    [
        "12.03.2024 kl. 14.30",
        "12-03-2024",
        "2024-03-12",
        "BT 142/88, puls 72, Hb 8,2 mmol/l",
        "Fragmin 5000 IE x 1",
        "eGFR 58, HbA1c 53 mmol/mol",
        "rekv.nr. 1234567",
        "prøve S0000012345",
        "NPU27300 og A10BA02",
    ],
)
def test_clinical_numbers_are_not_identifiers(text: str) -> None:
    for shape in ids.TEXT_SHAPES:
        assert not shape.contains(text), shape.kind


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("skriv til lene.bruun@gmail.com.", "lene.bruun@gmail.com"),
        ("<Søren_82@mail.tele.dk>", "Søren_82@mail.tele.dk"),
        ("adresse Fynsvej 82, 1. th.", "Fynsvej 82, 1. th."),
        ("bor Bruuns Gade 12, 8000 Aarhus", "Bruuns Gade 12, 8000"),
        ("Torvet 3", "Torvet 3"),
    ],
)
def test_email_and_address_shapes(text: str, found: str) -> None:
    spans = [text[s:e] for shape in (ids.EMAIL, ids.ADDRESS) for s, e in shape.spans(text)]
    assert spans == [found]


def test_strict_cpr_needs_a_plausible_date_and_no_letters_around() -> None:
    assert ids.CPR.contains("ref 3213901234")  # a mistyped CPR number is scrubbed
    assert not ids.CPR_STRICT.contains("ref 3213901234")  # but not reported in an output
    assert not ids.CPR_STRICT.contains("ab0101901234cd")  # inside a hex key
    assert not ids.CPR_STRICT.contains("0,0101901234")  # a decimal fraction
    assert ids.CPR_STRICT.contains("ref 01.01.90-1234")


# --- nobody else spells out an identifier pattern ---------------------------------

#: Fragments only a CPR, phone or e-mail pattern contains.
_PATTERN_FRAGMENTS = (
    r"\d{6}",
    "[0-9]{6}",
    r"\d{10}",
    "[0-9]{10}",
    r"\d{2}[\s-]?\d{2}",
    "[0-9]{2} ?",
    r"(?:[0-9]{2} ?){3}",
    r"\+45",
    r"(?:\+45|0045)",
    "[2-9][0-9]",
    "[0-3][0-9][01]",
    "+@",
)
_OWNERS = {
    REPO / "regionlab" / "privacy" / "identifiers.py",
    Path(__file__).resolve(),
}


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _python_files() -> list[Path]:
    roots = ["regionlab", "pipelines", "quality", "catalog", "labeling", "bench", "tests"]
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def test_no_module_but_the_owner_spells_out_a_cpr_or_phone_pattern() -> None:
    files = _python_files()
    assert len(files) > 100
    offenders = {
        str(path.relative_to(REPO)): fragment
        for path in files
        if path not in _OWNERS
        for text in _string_constants(path)
        for fragment in _PATTERN_FRAGMENTS
        if fragment in text
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "module",
    [
        "catalog/safety.py",
        "regionlab/erasure/requests.py",
        "regionlab/erasure/match.py",
        "tests/leakscan.py",
        "regionlab/privacy/pseudonym.py",
        "regionlab/privacy/scrub.py",
        "regionlab/research/audit_store.py",
        "regionlab/research/airlock/rules.py",
        "regionlab/wap/erasure_hook.py",
        "regionlab/wap/pseudonymise.py",
    ],
)
def test_consumers_import_the_owner(module: str) -> None:
    tree = ast.parse((REPO / module).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "regionlab.privacy.identifiers" in imported
