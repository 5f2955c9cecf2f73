"""`regionlab permit apply` reports every problem of a permit file at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import cli

REPO = Path(__file__).resolve().parents[2]


def test_permit_apply_names_every_problem_in_one_run(
    tmp_path: Path,
    var_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.app import token_store
    from service.roles import Role

    monkeypatch.setenv("REGIONLAB_TOKEN", token_store().issue("anna", Role.researcher))
    data = yaml.safe_load((REPO / "permits" / "readmissions-vejle.yaml").read_text("utf-8"))
    data["project_id"] = "Readmissions_Vejle"  # schema: pattern
    data["applicant"] = {"name": "Anders Bech"}  # schema: missing e-mail
    data["products"] = [
        {"product": "population/person", "columns": ["person_key"]},  # unknown product
        {"product": "population/persons", "columns": ["person_key", "cpr"]},  # unpublished
    ]
    data["cohort"]["age"] = {"min": "old"}  # the inline cohort's own problem
    data["expires"] = "2020-01-01"  # in the past
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    old = sys.argv
    sys.argv = ["regionlab", "permit", "apply", str(path)]
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        sys.argv = old
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "Traceback" not in err
    text = " ".join(err.split())  # rich wraps long lines
    for wanted in (
        "project_id: String should match pattern '^[a-z][a-z0-9-]{1,62}$'",
        "applicant.email: Field required",
        "products[0].product: unknown product 'population/person' (did you mean "
        "'population/persons'?)",
        "products[1].columns: cpr not published by population/persons",
        "cohort: age.min:",
    ):
        assert wanted in text, f"missing {wanted!r} in:\n{err}"
    for folder in ("permits", "applications"):
        assert not (var_dir / "research" / folder).exists() or not any(
            (var_dir / "research" / folder).iterdir()
        )


def test_expiry_is_reported_with_the_other_problems(
    tmp_path: Path, var_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from regionlab.errors import UserError
    from regionlab.research.permits import register_permit

    data = yaml.safe_load((REPO / "permits" / "readmissions-vejle.yaml").read_text("utf-8"))
    data["expires"] = "2020-01-01"
    data["products"][0]["columns"] = ["person_key", "cpr"]
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(UserError) as info:
        register_permit(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2, lines
    assert "products[0].columns: cpr not published" in lines[0]
    assert "expires: 2020-01-01 is not in the future" in lines[1]
