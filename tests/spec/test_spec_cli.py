"""`regionlab check` on the real folder and on a copy with many planted mistakes."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner

from cli.check_cmd import check
from tests.spec.conftest import DOMAINS, edit
from tests.spec.test_spec_messages import COLUMNS_N_D, derived_spec


def check_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(check)
    app.command("x")(lambda: None)  # a second command keeps `check` as a named subcommand
    return app


def run_check(domains: Path) -> tuple[int, str]:
    result = CliRunner().invoke(check_app(), ["check", "--domains", str(domains)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_real_domains_pass() -> None:
    code, output = run_check(DOMAINS)
    assert code == 0, output
    assert output.strip() == "ok: 8 domains, 13 products, 25 glossary terms, 2 model cards"


def plant_problems(root: Path) -> list[str]:
    """Break a copy of domains/ in ten different ways; return what each must print."""
    edit(root / "clinical_notes/notes.yaml", "keywords:", "keywrds:")
    edit(
        root / "diagnoses/procedures.yaml",
        "    column: procedure_code\n    kahn: conformance\n",
        "    column: procedure_kode\n    kahn: conformance\n",
    )
    edit(
        root / "population/persons.yaml",
        "    classification: direct_identifier\n    pseudonymisation: drop\n  - name: death_date",
        "    classification: direct_identifier\n  - name: death_date",
    )
    edit(root / "initiatives/initiatives.yaml", "access_level: public", "access_level: open")
    edit(
        root / "research/readmissions_30d.yaml",
        "start_time) AS days_between\n",
        "start_time) AS days\n",
    )
    edit(
        root / "research/monthly_activity.yaml",
        "upstream: [patient_administration/contacts, population/persons]",
        "upstream: [patient_administration/contacts]",
    )
    edit(
        root / "laboratory/lab_results.yaml",
        "glossary_terms: [npu, hba1c]",
        "glossary_terms: [npu, hba1c, glukose]",
    )
    for name, other in (("a", "b"), ("b", "a")):
        (root / "research" / f"{name}.yaml").write_text(
            derived_spec(
                name, f"research/{other}", f'"SELECT n, d FROM research.{other}"', COLUMNS_N_D
            ),
            encoding="utf-8",
        )
    shutil.copy(
        root / "patient_administration/contacts.yaml",
        root / "patient_administration/contacts_v2.yaml",
    )
    edit(root / "medication/domain.yaml", "title: Medicin\n", "")
    edit(root / "initiatives/domain.yaml", "title: AI- og automatiseringsinitiativer", "title: [AI")
    return [
        "domains/clinical_notes/notes.yaml: keywrds: Extra inputs are not permitted",
        "domains/diagnoses/procedures.yaml: quality[code_in_sks]: uses column 'procedure_kode', "
        "which is not published (did you mean 'procedure_code'?)",
        "domains/population/persons.yaml: columns[phone].pseudonymisation: a direct identifier "
        "must not be published as is",
        "domains/initiatives/initiatives.yaml: access_level: Input should be 'public', "
        "'restricted' or 'non_public' (pick one of the listed values)",
        "domains/research/readmissions_30d.yaml: derived.sql: the SQL does not output declared "
        "column 'days_between'",
        "domains/research/readmissions_30d.yaml: derived.sql: the SQL outputs column 'days' "
        "(bigint), which is not declared",
        "domains/research/monthly_activity.yaml: derived.sql: reads population.persons, which is "
        "not an upstream",
        "domains/laboratory/lab_results.yaml: glossary_terms: unknown glossary term 'glukose'",
        "domains/research/b.yaml: derived.upstream: dependency cycle: research/a -> research/b "
        "-> research/a (break the cycle)",
        "domains/patient_administration/contacts_v2.yaml: id: duplicate product id "
        "patient_administration/contacts (also defined in contacts.yaml)",
        "domains/medication/domain.yaml: title: Field required (add `title`; see "
        "domains/README.md)",
        "domains/initiatives/domain.yaml: line 4: not valid YAML: expected ',' or ']', but got ':'",
    ]


def test_broken_copy_reports_every_planted_problem(tmp_path: Path) -> None:
    root = tmp_path / "domains"
    shutil.copytree(DOMAINS, root)
    expected = plant_problems(root)
    code, output = run_check(root)
    assert code == 1
    assert "Traceback" not in output
    lines = output.splitlines()
    for wanted in expected:
        assert any(line.startswith(wanted) for line in lines), f"missing: {wanted}\n{output}"
    problem_lines = [line for line in lines if line.startswith("domains/")]
    files = {line.split(":", 1)[0] for line in problem_lines}
    assert len(files) >= 8
    assert all(line.count(": ") >= 2 for line in problem_lines)  # file: field: message
    assert f"{len(problem_lines)} problem(s) in" in output


def test_stale_schema_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "domains"
    shutil.copytree(DOMAINS, root)
    (root / "product.schema.json").write_text("{}\n", encoding="utf-8")
    code, output = run_check(root)
    assert code == 1  # a stale schema misleads stewards' editors: it fails the check
    joined = "".join(output.splitlines())  # rich wraps long paths
    assert "product.schema.json: (file): JSON Schema is stale" in joined
    result = CliRunner().invoke(check_app(), ["check", "--domains", str(root), "--write-schema"])
    assert result.exit_code == 0
    assert "JSON Schema is stale" not in "".join(result.output.splitlines())
    written = (root / "product.schema.json").read_text(encoding="utf-8")
    assert written == (DOMAINS / "product.schema.json").read_text(encoding="utf-8")
