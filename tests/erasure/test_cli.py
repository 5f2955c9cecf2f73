"""The erase CLI: CPR numbers from a file or stdin only; refused on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli import erasure_cmd
from regionlab.erasure.requests import make_request, parse_cprs
from regionlab.errors import UserError
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import person_key
from regionlab.settings import Settings
from tests.erasure.handmade import publish, values

CPRS = ["010190-1234", "0202851235", "030370-2346"]


def _app() -> typer.Typer:
    """Registered the way the lead registers it: `regionlab erase`, `regionlab retention`."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("erase")(erasure_cmd.erase)
    app.add_typer(erasure_cmd.retention_app, name="retention")
    return app


def _persons_lake() -> list[str]:
    keys = [person_key(c, load_key()) for c in CPRS]
    rows = ", ".join(f"('{k}', 'K')" for k in keys)
    publish(
        {
            "population.persons": f"SELECT * FROM (VALUES {rows}) t(person_key, sex)",
            "research.t2d_cohort": f"SELECT '{keys[0]}' AS person_key, DATE '2020-01-01' AS d",
        }
    )
    return keys


def _invoke(args: list[str], stdin: str | None = None):
    return CliRunner().invoke(_app(), args, input=stdin, standalone_mode=False)


@pytest.mark.parametrize(
    "args",
    [
        ["erase", "010190-1234", "--request-id", "R-1", "--reason", "indsigelse"],
        ["erase", "--request-id", "R-1", "--reason", "indsigelse", "0101901234"],
        ["erase", "--request-id", "0101901234", "--reason", "indsigelse"],
        ["erase", "--request-id", "R-1", "--reason", "indsigelse fra 010190 1234"],
        ["erase", "--from-file", "010190-1234.txt", "--request-id", "R-1", "--reason", "x"],
    ],
)
def test_cli_refuses_a_cpr_on_the_command_line(keyed_var: Settings, args: list[str]) -> None:
    result = _invoke(args, stdin="")
    assert isinstance(result.exception, UserError), result.output
    message = str(result.exception)
    assert "looks like a CPR number" in message or "CPR" in message
    for shape in ("010190-1234", "0101901234", "010190 1234"):
        assert shape not in message and shape not in result.output
    assert not (keyed_var.var_dir / "erasure").exists()


def test_cli_erases_from_a_file_and_from_stdin(keyed_var: Settings, tmp_path: Path) -> None:
    keys = _persons_lake()
    cpr_file = tmp_path / "cprs.txt"
    cpr_file.write_text(f"# anmodning R-1\n{CPRS[0]}\n\n{CPRS[0].replace('-', '')}\n")
    result = _invoke(
        ["erase", "--from-file", str(cpr_file), "--request-id", "R-1", "--reason", "indsigelse"]
    )
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "verification: passed" in result.output
    assert sorted(values("SELECT person_key FROM lake.population.persons")) == sorted(keys[1:])
    assert values("SELECT count(*) FROM lake.research.t2d_cohort") == [0]
    receipt = json.loads((keyed_var.var_dir / "erasure" / "receipts" / "R-1.json").read_text())
    assert receipt["persons"] == 1
    assert receipt["removed"]["lake"] == {"population/persons": 1, "research/t2d_cohort": 1}

    result = _invoke(["erase", "--request-id", "R-2", "--reason", "sletning"], stdin=f"{CPRS[1]}\n")
    assert result.exit_code == 0, result.output
    assert values("SELECT person_key FROM lake.population.persons") == [keys[2]]
    assert values("SELECT count(*) FROM lake._regionlab.suppression_list") == [2]
    for name in ("R-1.json", "R-2.json"):
        text = (keyed_var.var_dir / "erasure" / "receipts" / name).read_text()
        assert not any(k in text for k in keys)
        assert not any(c in text or c.replace("-", "") in text for c in CPRS)

    # the same request id again is refused once verified
    again = _invoke(["erase", "--request-id", "R-2", "--reason", "x"], stdin=f"{CPRS[1]}\n")
    assert isinstance(again.exception, UserError) and "already carried out" in str(again.exception)

    # retention from the CLI
    result = _invoke(["retention", "apply", "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "retention retention-2026-11-01" in result.output


def test_bad_lines_are_named_by_number_never_by_value() -> None:
    with pytest.raises(UserError, match=r"cprs.txt line 2: not a CPR number") as info:
        parse_cprs(["010190-1234", "01019-01234x"], "cprs.txt")
    assert "01019" not in str(info.value)
    assert parse_cprs(["010190-1234", " 0101901234 ", "# x", ""], "f") == ("0101901234",)
    with pytest.raises(UserError, match="holds no CPR numbers"):
        parse_cprs(["# only a comment"], "f")
    with pytest.raises(UserError, match="--reason"):
        make_request("R-1", "", ["010190-1234"])
    with pytest.raises(UserError, match="--request-id"):
        make_request("../etc/passwd", "x", ["010190-1234"])
    assert "1234" not in repr(make_request("R-1", "x", ["010190-1234"]))


def test_a_workspace_that_cannot_be_rebuilt_is_flagged_and_fails_verification(
    keyed_var: Settings,
) -> None:
    from regionlab.erasure import erase
    from regionlab.privacy.keys import derive_key
    from regionlab.privacy.pseudonym import hmac_hex
    from tests.erasure.handmade import workspace

    keys = _persons_lake()
    publish(
        {
            "medication.prescriptions": f"SELECT * FROM (VALUES ('r1', '{keys[0]}', 'A10BA02'),"
            f" ('r2', '{keys[1]}', 'A10BA02')) t(prescription_id, person_key, atc_code)"
        }
    )
    pseudonym = hmac_hex(derive_key(load_key(), "project:p-x"), keys[0])
    path = workspace(
        "p-x",
        {
            "population.persons": (
                "population/persons",
                f"SELECT * FROM (VALUES ('{pseudonym}'), ('other')) t(person_key)",
            ),
            # copied without person key or row key: the person's rows cannot be found
            "medication.prescriptions": (
                "medication/prescriptions",
                "SELECT * FROM (VALUES ('A10BA02'), ('A10BA02')) t(atc_code)",
            ),
        },
    )
    receipt = erase(make_request("R-7", "indsigelse", [CPRS[0]]))
    [ws] = receipt.removed.workspaces
    assert ws.rows == {"population.persons": 1}
    assert not ws.rebuilt and ws.pending and "could not rebuild" in ws.pending
    assert not receipt.verification.passed
    assert "p-x" in receipt.verification.notes[0]
    flag = json.loads((path.parent / "erasures.json").read_text())
    assert flag[0]["request_id"] == "R-7" and flag[0]["pending"]


def test_an_erasure_names_a_released_result_holding_the_persons_cpr(keyed_var: Settings) -> None:
    """The airlock's files are searched by the real erasure (CPRs reach the selection)."""
    from regionlab.erasure import erase

    _persons_lake()
    released = keyed_var.research_dir / "airlock" / "p-y" / "s1" / "released" / "rows.csv"
    released.parent.mkdir(parents=True)
    released.write_text(f"cpr,n\n{CPRS[0]},1\n", encoding="utf-8")
    receipt = erase(make_request("R-8", "indsigelse", [CPRS[0]]))
    where = f"airlock:{released.relative_to(keyed_var.var_dir)}"
    assert receipt.verification.other_found == {where: 1}
    assert receipt.verification.airlock_files_scanned == 1
    assert not receipt.verification.passed
    text = (keyed_var.var_dir / "erasure" / "receipts" / "R-8.json").read_text()
    assert CPRS[0] not in text and CPRS[0].replace("-", "") not in text

    released.write_text("cpr,n\nwithdrawn,0\n", encoding="utf-8")  # the checker withdrew it
    again = erase(make_request("R-9", "indsigelse", [CPRS[0]]))
    assert again.verification.passed, again.verification
