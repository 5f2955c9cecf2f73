"""The demo's explanation of flagged rows is computed against defects.csv, not asserted."""

from __future__ import annotations

from pathlib import Path

from pipelines.quality_hook import quality_hook
from quality.defects_explained import explain_defects, labelled_records
from regionlab import lake
from regionlab.privacy.keys import load_key
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.wap.engine import run_source_product
from tests.quality.conftest import AS_OF

REGISTRY = load_domains()
PRODUCTS = ("population/persons", "patient_administration/contacts", "diagnoses/diagnoses")


def _plant_unlabelled_unknown_code(sources: Path) -> None:
    """A delivery with one row whose code is unknown but that defects.csv does not list."""
    folder = sources / "lpr3" / "diagnoses"
    first = sorted(folder.glob("*.csv"))[0].read_text(encoding="utf-8").splitlines()
    header, row = first[0], first[1].split(",")
    row[0], row[3] = "D999999999", "DX999"
    (folder / "diagnoses_2026-11-15.csv").write_text(
        header + "\n" + ",".join(row) + "\n", encoding="utf-8"
    )


def test_flagged_rows_are_matched_with_the_injected_defects(defect_platform: Settings) -> None:
    sources = defect_platform.sources_dir
    labels = labelled_records(sources)
    assert labels["lpr3/diagnoses"] and not any(
        r.startswith("line:") for r in labels["cpr/persons"]
    )
    _plant_unlabelled_unknown_code(sources)
    for ref in PRODUCTS:
        run = run_source_product(REGISTRY.product(ref), defect_platform, quality_hook=quality_hook)
        assert run.status == "published", run.blocking_failures
    con = lake.connect(read_only=True)
    try:
        found = {
            (m.product, m.rule): m
            for m in explain_defects(con, REGISTRY, sources, load_key(), AS_OF)
        }
    finally:
        con.close()
    codes = found["diagnoses/diagnoses", "code_in_sks"]
    assert codes.flagged == codes.compared > 1
    assert codes.not_injected == 1  # the planted row, and only it, is not an injected defect
    assert codes.injected == codes.compared - 1
    # a diagnosis whose contact was quarantined upstream points to an injected defect
    contacts = found["diagnoses/diagnoses", "contact_exists"]
    assert contacts.compared > 0 and contacts.not_injected == 0
