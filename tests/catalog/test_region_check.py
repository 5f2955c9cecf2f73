"""`regionlab check` validates ``domains/catalog.yaml`` with the other specs, not only on export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.check_cmd import check
from regionlab.errors import UserError
from regionlab.spec import jsonschema
from regionlab.spec import region as catalog_region
from regionlab.spec.loader import collect
from regionlab.spec.region import RegionCatalogue

REPO = Path(__file__).resolve().parents[2]
DOMAINS = REPO / "domains"


@pytest.fixture
def domains_copy(tmp_path: Path) -> Path:
    target = tmp_path / "domains"
    shutil.copytree(DOMAINS, target)
    return target


def _break(root: Path) -> None:
    path = root / "catalog.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("type: regional-authority") == 1 and text.count("frequency: MONTHLY") == 1
    text = text.replace("type: regional-authority", "type: county")
    text = text.replace("frequency: MONTHLY", "frequency: MONTHLY\nlanguge: DAN")
    path.write_text(text.replace("catalogue_url:", "catalog_url:"), encoding="utf-8")


def _rendered(root: Path) -> list[str]:
    _, problems = collect(root)
    return [p.render(root.parent) for p in problems]


def test_real_catalog_yaml_passes() -> None:
    assert _rendered(DOMAINS) == []


def test_problems_name_the_file_and_field(domains_copy: Path) -> None:
    _break(domains_copy)
    lines = _rendered(domains_copy)
    assert any(
        line.startswith("domains/catalog.yaml: publisher.type: 'county' is not a known")
        for line in lines
    ), lines
    # A misspelled key is one problem with its correction, not also "catalogue_url: Field required".
    assert not any(line.startswith("domains/catalog.yaml: catalogue_url:") for line in lines)
    assert (
        "domains/catalog.yaml: catalog_url: Extra inputs are not permitted "
        "(did you mean 'catalogue_url'?)"
    ) in lines
    assert any(
        line.startswith("domains/catalog.yaml: languge: Extra inputs")
        and "did you mean 'language'?" in line
        for line in lines
    )
    assert all(line.startswith("domains/catalog.yaml: ") for line in lines), lines


def test_regionlab_check_fails_on_a_broken_catalog_yaml(domains_copy: Path) -> None:
    _break(domains_copy)
    app = typer.Typer()
    app.command()(check)
    app.command("x")(lambda: None)
    result = CliRunner().invoke(app, ["check", "--domains", str(domains_copy)])
    assert result.exit_code == 1
    joined = "".join(result.output.splitlines())  # rich wraps long lines
    assert "domains/catalog.yaml: publisher.type:" in joined
    assert "Traceback" not in result.output


def test_catalog_yaml_stays_optional_for_the_check(domains_copy: Path) -> None:
    (domains_copy / "catalog.yaml").unlink()
    assert _rendered(domains_copy) == []


def test_yaml_syntax_errors_are_problems_too(domains_copy: Path) -> None:
    (domains_copy / "catalog.yaml").write_text("publisher: [unclosed\n", encoding="utf-8")
    lines = _rendered(domains_copy)
    assert len(lines) == 1 and lines[0].startswith("domains/catalog.yaml: line ")


def test_export_side_reports_the_same_fields(domains_copy: Path) -> None:
    _break(domains_copy)
    with pytest.raises(UserError) as err:
        catalog_region.load_region(domains_copy / "catalog.yaml")
    assert "publisher.type" in str(err.value) and "catalogue_url" in str(err.value)
    assert catalog_region.RegionCatalogue is RegionCatalogue  # one model, not two


def test_json_schema_is_published_for_editors() -> None:
    assert jsonschema.SCHEMAS["catalog.schema.json"] is RegionCatalogue
    schema = json.loads((DOMAINS / "catalog.schema.json").read_text(encoding="utf-8"))
    assert {"publisher", "hdab", "access", "catalogue_url"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_the_spec_package_imports_no_catalog_module() -> None:
    """Imports point one way: regionlab ← catalog."""
    code = (
        "import sys, regionlab.spec, regionlab.spec.loader, regionlab.spec.jsonschema, "
        "cli.check_cmd; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('catalog', 'datahub')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ},
        cwd=REPO,
    )
    assert out.stdout.strip() == "[]"


def test_every_file_the_demo_writes_is_in_a_location_with_its_erasure_store(
    demo_var: Path,
) -> None:
    """A writer of person data with no erasure store (or an undeclared folder) fails here."""
    from tests.erasure.stores_check import assert_every_writer_has_a_store

    assert_every_writer_has_a_store(demo_var)
