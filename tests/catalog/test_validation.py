"""The vendored HealthDCAT-AP validation: its notice, its behaviour, its command."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from catalog.validation import ROOT, validate_export, validate_graph
from catalog.validation.shacl import ACCESS_RIGHT, shape_files
from regionlab.errors import UserError
from regionlab.spec.vocab import AccessLevel

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "healthdcat-ap-r8" / "examples" / "example-healthdcat-dataset.ttl"
NOTICE = ROOT / "NOTICE.md"


def _vendored() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and p.name != "NOTICE.md"
    )


def test_every_vendored_file_has_a_notice_row_with_its_checksum() -> None:
    rows = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{16})` \|$", NOTICE.read_text(), re.M))
    files = {p.relative_to(ROOT).as_posix(): p for p in _vendored()}
    assert set(rows) == set(files), set(rows) ^ set(files)
    for rel, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest()[:16] == rows[rel], rel
    text = NOTICE.read_text()
    for needed in ("CC BY 4.0", "cd7841f", "DCAT-AP 3.0.0", "code.europa.eu/healthdataeu"):
        assert needed in text


@pytest.mark.parametrize("level", list(AccessLevel))
def test_each_level_loads_the_files_the_eu_validator_configures(level: AccessLevel) -> None:
    config = (ROOT / "healthdcat-ap-r8" / "config.properties").read_text()
    name = {"public": "public", "restricted": "restricted", "non_public": "non-public"}[level]
    configured = re.search(rf"^validator\.shaclFile\.{name} = (.*)$", config, re.M)
    assert configured
    health = ROOT / "healthdcat-ap-r8"
    files = {
        p.relative_to(health).as_posix() for p in shape_files(level, True) if health in p.parents
    }
    # Everything the validator loads for the level that shapes datasets is loaded here too; the
    # guard, the deprecation and the import lists are left out (see shacl.py).
    for rel in configured.group(1).split(", "):
        if rel.startswith(("shapes/graph-guard", "deprecated/", "imports/")):
            continue
        assert rel in files, rel
    for path in shape_files(level, True):
        assert path.exists(), path


def test_the_official_example_leaves_the_four_known_violations() -> None:
    """The EU's own example dataset, validated as the EU validator does: 4 violations
    (dcat:byteSize typed as integer, hence a dataset without a conforming distribution).
    Its unknown country is a warning, as the vocabulary shape declares it: pySHACL's
    ``sh:detail`` explanation under that warning is not a violation of its own."""
    [report] = validate_export(EXAMPLE, recommended=False)
    assert report.level is AccessLevel.non_public and report.datasets == 1
    assert report.violations == 4
    paths = {f.path for f in report.findings if f.severity == "Violation"}
    assert paths == {str(DCAT.distribution), str(DCAT.byteSize)}
    warned = {f.path for f in report.findings if f.severity == "Warning"}
    assert str(DCTERMS.spatial) in warned


def _example_as(level_name: str, rename: str | None = None) -> Graph:
    """The official example with its dataset's access right set to ``level_name``
    (and, with ``rename``, its dataset under another URI)."""
    data = Graph().parse(EXAMPLE, format="turtle")
    [ds] = set(data.subjects(RDF.type, DCAT.Dataset))
    data.remove((ds, DCTERMS.accessRights, None))
    right = URIRef(f"{ACCESS_RIGHT}{level_name}")
    data.add((ds, DCTERMS.accessRights, right))
    data.add((right, RDF.type, DCTERMS.RightsStatement))
    if rename:
        new = URIRef(f"{ds}-{rename}")
        for s, p, o in list(data):
            if ds in (s, o):
                data.remove((s, p, o))
                data.add((new if s == ds else s, p, new if o == ds else o))
    return data


def test_results_are_attributed_to_the_level_of_their_dataset() -> None:
    public = _example_as("PUBLIC")
    as_public = validate_graph(public, AccessLevel.public)
    assert as_public.datasets == 1
    assert not [f for f in as_public.findings if f.path == str(DCTERMS.accessRights)]
    # The same dataset held to NON_PUBLIC misses that level's access right (and more).
    strict = validate_graph(public, AccessLevel.non_public, all_datasets=True)
    assert [
        f
        for f in strict.findings
        if f.path == str(DCTERMS.accessRights) and "NON_PUBLIC" in f.message
    ]
    # Validated per level, a NON_PUBLIC run has no dataset of its own and reports nothing
    # about the public one.
    alone = validate_graph(public, AccessLevel.non_public)
    assert alone.datasets == 0
    assert not [f for f in alone.findings if "dataset-oncology" in f.focus]


def test_a_missing_or_broken_export_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="regionlab catalog export dcat"):
        validate_export(tmp_path / "none.ttl")
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix : <x> . this is not turtle", encoding="utf-8")
    with pytest.raises(UserError, match="not valid Turtle"):
        validate_export(broken)
    empty = tmp_path / "empty.ttl"
    empty.write_text("<urn:a> <urn:b> <urn:c> .\n", encoding="utf-8")
    with pytest.raises(UserError, match="no dcat:Dataset"):
        validate_export(empty)


def _cli(*args: str, var: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGIONLAB_VAR": str(var)}
    return subprocess.run(
        [sys.executable, "-m", "regionlab", "catalog", "validate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_cli_prints_counts_per_level_and_exits_1_on_violations(tmp_path: Path) -> None:
    mixed = _example_as("PUBLIC", rename="public") + _example_as("NON_PUBLIC")
    ttl = tmp_path / "example.ttl"
    mixed.serialize(ttl, format="turtle")
    proc = _cli("--file", str(ttl), "--no-recommended", var=tmp_path / "var")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    rows = dict(re.findall(r"│ (public|non_public)\s+│ \d+\s+│ (\d+)\s+│", proc.stdout))
    assert set(rows) == {"public", "non_public"}, proc.stdout
    assert int(rows["non_public"]) >= 4 and int(rows["public"]) >= 1
    assert "dcat#distribution" in proc.stdout


def test_cli_names_the_missing_export_and_the_fix(tmp_path: Path) -> None:
    proc = _cli(var=tmp_path / "var")
    assert proc.returncode == 1
    said = " ".join(proc.stderr.split())  # the error console folds long lines
    assert "regionlab catalog export dcat" in said and "Traceback" not in said
