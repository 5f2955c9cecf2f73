"""Facts about the region that the catalogue states must be right.

Region Syddanmark's electronic patient record is EPJ SYD on Systematic Columna (since 2022);
the catalogue used to call it COSMIC (the record system of other Nordic regions).
"""

from __future__ import annotations

from pathlib import Path

from regionlab.spec import load_domains

REPO = Path(__file__).resolve().parents[2]


def test_no_domain_file_names_the_wrong_record_system() -> None:
    wrong = [
        str(p.relative_to(REPO))
        for p in (REPO / "domains").rglob("*.yaml")
        if "cosmic" in p.read_text(encoding="utf-8").lower()
    ]
    assert not wrong


def test_the_notes_name_epj_syd_on_columna() -> None:
    registry = load_domains(REPO / "domains")
    notes = registry.products["clinical_notes/notes"]
    assert notes.source is not None
    assert "EPJ SYD" in notes.source.description and "Columna" in notes.source.description
    domain = registry.domains["clinical_notes"]
    assert "EPJ SYD" in domain.description and "Systematic Columna" in domain.description
