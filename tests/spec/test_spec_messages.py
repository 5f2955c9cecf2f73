"""What a steward reads: the exact message for each kind of mistake, file and field included.

Every case starts from a copy of the real ``domains/`` and plants one mistake,
so the expected output is the whole problem list, not just a substring.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from regionlab.spec.loader import SpecError, collect, load_domains
from tests.spec.conftest import edit

Problems = Callable[[Path], list[str]]

NOTES = "clinical_notes/notes.yaml"  # no derived product reads notes: no follow-on problems
PROCEDURES = "diagnoses/procedures.yaml"


def derived_spec(product: str, upstream: str, sql: str, columns: str) -> str:
    return f"""\
id: {product}
domain: research
title: Testprodukt
description: Et afledt testprodukt.
purpose: Test.
owners:
  - {{name: Jonas Friis, email: jonas.friis@rsyd.dk, role: data_steward}}
derived:
  upstream: [{upstream}]
  sql: {sql}
row_key: [n]
columns:
{columns}
legal_basis: {{gdpr_article_6: "art. 6, stk. 1, litra e"}}
retention: {{years: 5, from_column: d, justification: Test.}}
health_categories: [RQSH]
"""


COLUMNS_N_D = """\
  - {name: n, type: bigint, description: Antal.}
  - {name: d, type: date, description: Dato.}"""


def test_a_new_valid_product_loads_cleanly(domains_copy: Path, problems_of: Problems) -> None:
    (domains_copy / "research" / "t2d_by_municipality.yaml").write_text(
        derived_spec(
            "t2d_by_municipality",
            "research/t2d_cohort",
            '"SELECT count(*) AS n, max(first_diagnosis_date) AS d FROM research.t2d_cohort"',
            COLUMNS_N_D,
        ),
        encoding="utf-8",
    )
    assert problems_of(domains_copy) == []
    registry = load_domains(domains_copy)
    order = [p.ref for p in registry.topological()]
    assert order.index("research/t2d_cohort") < order.index("research/t2d_by_municipality")


def test_missing_field(domains_copy: Path, problems_of: Problems) -> None:
    edit(domains_copy / NOTES, "status: active\n", "")  # optional: still fine
    edit(domains_copy / NOTES, "row_key: [note_id]\n", "")
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: row_key: Field required "
        "(add `row_key`; see domains/README.md)"
    ]


def test_unknown_field_with_a_typo(domains_copy: Path, problems_of: Problems) -> None:
    edit(domains_copy / NOTES, "keywords:", "keywrds:")
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: keywrds: Extra inputs are not permitted "
        "(did you mean 'keywords'?)"
    ]


def test_unknown_field_inside_a_column(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / NOTES,
        "    pseudonymisation: scrub_text\n",
        "    pseudonymization: scrub_text\n",
    )
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: columns[text].pseudonymization: Extra inputs are not "
        "permitted (did you mean 'pseudonymisation'?)"
    ]


def test_bad_enum_value(domains_copy: Path, problems_of: Problems) -> None:
    edit(domains_copy / NOTES, "access_level: non_public", "access_level: secret")
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: access_level: Input should be 'public', 'restricted' "
        "or 'non_public' (pick one of the listed values)"
    ]


def test_bad_rule_type(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / NOTES,
        "  - id: text_complete\n    type: completeness",
        "  - id: text_complete\n    type: complete",
    )
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: quality[text_complete]: Input tag 'complete' found "
        "using 'type' does not match any of the expected tags: 'not_null', 'unique', "
        "'unique_combination', 'in_set', 'in_code_list', 'regex', 'between', 'greater_or_equal', "
        "'row_count_between', 'foreign_key', 'not_in_future', 'not_after_death', 'completeness', "
        "'freshness' (did you mean 'completeness'?)"
    ]


def test_bad_email(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / NOTES,
        "    email: kasper.oestergaard@rsyd.dk",
        "    email: kasper.oestergaard",
    )
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: owners[Kasper Østergaard].email: value is not a valid "
        "email address: An email address must have an @-sign. (give a full e-mail address such "
        "as navn@rsyd.dk)"
    ]


def test_direct_identifier_without_rule(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / "population/persons.yaml",
        "    description: Telefonnummer.\n    classification: direct_identifier\n"
        "    pseudonymisation: drop\n",
        "    description: Telefonnummer.\n    classification: direct_identifier\n",
    )
    assert problems_of(domains_copy) == [
        "domains/population/persons.yaml: columns[phone].pseudonymisation: a direct identifier "
        "must not be published as is (use person_key for the CPR number or drop for names, "
        "addresses and phones)"
    ]


def test_rule_on_a_missing_column_suggests_the_right_one(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(
        domains_copy / PROCEDURES,
        "    column: procedure_code\n    kahn: conformance\n"
        "    severity: warning\n    threshold: 0.02\n",
        "    column: procedure_kode\n    kahn: conformance\n    severity: warning\n"
        "    threshold: 0.02\n",
    )
    assert problems_of(domains_copy) == [
        "domains/diagnoses/procedures.yaml: quality[code_in_sks]: uses column 'procedure_kode', "
        "which is not published (did you mean 'procedure_code'?)"
    ]


def test_rule_on_the_source_name_of_a_renamed_column(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(
        domains_copy / PROCEDURES,
        "  - id: person_key_not_null\n    type: not_null\n    column: person_key\n",
        "  - id: person_key_not_null\n    type: not_null\n    column: cpr\n",
    )
    assert problems_of(domains_copy) == [
        "domains/diagnoses/procedures.yaml: quality[person_key_not_null]: uses column 'cpr', "
        "which is not published"
    ]


def test_unknown_glossary_term(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / NOTES,
        "sprogmodeller]\nglossary_terms: [klinisk_notat, pseudonym]\n",
        "sprogmodeller]\nglossary_terms: [klinisk_notat, journalnotat]\n",
    )
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: glossary_terms: unknown glossary term 'journalnotat' "
        "(add it to domains/glossary.yaml)"
    ]


def test_unknown_upstream(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / "research/readmissions_30d.yaml",
        "upstream: [patient_administration/contacts]",
        "upstream: [patient_administration/contact]",
    )
    assert problems_of(domains_copy) == [
        "domains/research/readmissions_30d.yaml: derived.upstream[0]: unknown product "
        "patient_administration/contact (did you mean 'patient_administration/contacts'?)",
        "domains/research/readmissions_30d.yaml: derived.sql: reads "
        "patient_administration.contacts, which is not an upstream (list it under "
        "derived.upstream or write tables as domain.product)",
        "domains/research/readmissions_30d.yaml: derived.upstream: patient_administration/contact "
        "is listed but the SQL never reads it (remove it)",
    ]


def test_sql_reading_a_table_that_is_not_an_upstream(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(
        domains_copy / "research/monthly_activity.yaml",
        "upstream: [patient_administration/contacts, population/persons]",
        "upstream: [patient_administration/contacts]",
    )
    assert problems_of(domains_copy) == [
        "domains/research/monthly_activity.yaml: derived.sql: reads population.persons, which is "
        "not an upstream (list it under derived.upstream or write tables as domain.product)"
    ]


def test_sql_whose_output_differs_from_the_declared_columns(
    domains_copy: Path, problems_of: Problems
) -> None:
    readmissions = domains_copy / "research/readmissions_30d.yaml"
    edit(readmissions, "start_time) AS days_between\n", "start_time) AS days\n")
    edit(domains_copy / "research/t2d_cohort.yaml", "    type: boolean\n", "    type: varchar\n")
    assert problems_of(domains_copy) == [
        "domains/research/readmissions_30d.yaml: derived.sql: the SQL does not output declared "
        "column 'days_between' (add it to the SELECT or remove it from columns)",
        "domains/research/readmissions_30d.yaml: derived.sql: the SQL outputs column 'days' "
        "(bigint), which is not declared (declare it under columns or remove it from the SELECT)",
        "domains/research/t2d_cohort.yaml: columns[on_metformin].type: declared varchar, but the "
        "SQL outputs boolean (set type: boolean or CAST the column in the SQL)",
    ]


def test_sql_reading_a_column_the_upstream_does_not_publish(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(
        domains_copy / "population/municipality_population.yaml",
        "    WHERE death_month IS NULL\n",
        "    WHERE death_date IS NULL\n",
    )
    assert problems_of(domains_copy) == [
        "domains/population/municipality_population.yaml: derived.sql: SQL does not run on the "
        'upstream products: Binder Error: Referenced column "death_date" not found in FROM '
        'clause! Candidate bindings: "death_month", "age_band", "municipality_code", '
        '"person_key" (the SQL can read only the published columns of its upstream products)'
    ]


def test_cycle_between_two_derived_products(domains_copy: Path, problems_of: Problems) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        (domains_copy / "research" / f"{name}.yaml").write_text(
            derived_spec(
                name, f"research/{other}", f'"SELECT n, d FROM research.{other}"', COLUMNS_N_D
            ),
            encoding="utf-8",
        )
    assert problems_of(domains_copy) == [
        "domains/research/b.yaml: derived.upstream: dependency cycle: "
        "research/a -> research/b -> research/a (break the cycle)"
    ]


def test_duplicate_product_id(domains_copy: Path, problems_of: Problems) -> None:
    folder = domains_copy / "patient_administration"
    shutil.copy(folder / "contacts.yaml", folder / "contacts_v2.yaml")
    assert problems_of(domains_copy) == [
        "domains/patient_administration/contacts_v2.yaml: id: 'contacts' differs from file name "
        "(set id: contacts_v2)",
        "domains/patient_administration/contacts_v2.yaml: id: duplicate product id "
        "patient_administration/contacts (also defined in contacts.yaml)",
    ]


def test_invalid_yaml_names_the_line(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / NOTES,
        "title: Kliniske notater (EPJ, renset fritekst)",
        "title: [Kliniske notater",
    )
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: line 5: not valid YAML: expected ',' or ']', "
        "but got ':' (fix the syntax)"
    ]


def test_load_domains_raises_one_user_error_with_every_problem(domains_copy: Path) -> None:
    edit(domains_copy / NOTES, "keywords:", "keywrds:")
    edit(domains_copy / "initiatives/initiatives.yaml", "  load: replace\n", "  load: sometimes\n")
    with pytest.raises(SpecError) as info:
        load_domains(domains_copy)
    message = str(info.value)
    assert message.startswith(f"2 problem(s) in {domains_copy}:\n")
    assert "domains/clinical_notes/notes.yaml: keywrds: Extra inputs" in message
    assert (
        "domains/initiatives/initiatives.yaml: source.load: Input should be 'append' or 'replace'"
        in message
    )
    _, problems = collect(domains_copy)
    assert len(info.value.problems) == len(problems) == 2


PERSONS = "population/persons.yaml"
PERSONS_QIS = "  quasi_identifiers: [age_band, sex, residence_municipality, municipality_code]\n"


def test_listed_quasi_identifiers_must_be_all_the_classified_ones(
    domains_copy: Path, problems_of: Problems
) -> None:
    """Issue 15 finding 6: the list named two of four; the gate checked only those."""
    edit(domains_copy / PERSONS, PERSONS_QIS, "  quasi_identifiers: [age_band, sex]\n")
    assert problems_of(domains_copy) == [
        "domains/population/persons.yaml: privacy.quasi_identifiers: misses "
        "residence_municipality, municipality_code, classified quasi_identifier; the audit "
        "checks k over every quasi-identifier (list all of age_band, sex, "
        "residence_municipality, municipality_code, or leave quasi_identifiers out)"
    ]


def test_a_product_that_is_not_k_anonymous_needs_a_permit_and_a_reason(
    domains_copy: Path, problems_of: Problems
) -> None:
    text = (domains_copy / PERSONS).read_text(encoding="utf-8")
    start = text.index("  justification: >\n")
    end = text.index("quality:\n")
    (domains_copy / PERSONS).write_text(text[:start] + text[end:], encoding="utf-8")
    edit(domains_copy / PERSONS, "access_level: non_public", "access_level: restricted")
    assert problems_of(domains_copy) == [
        "domains/population/persons.yaml: access_level: a product that is not k-anonymous is "
        "only available under a permit (set access_level: non_public)",
        "domains/population/persons.yaml: privacy.justification: say why the product cannot be "
        "k-anonymous (e.g. one row per person with age band, sex and municipality; only under "
        "a permit)",
    ]


def test_counts_over_a_row_level_product_are_permit_only_too(
    domains_copy: Path, problems_of: Problems
) -> None:
    path = domains_copy / "population/municipality_population.yaml"
    edit(path, "access_level: non_public", "access_level: restricted")
    assert problems_of(domains_copy) == [
        "domains/population/municipality_population.yaml: access_level: reads population/persons, "
        "which is not k-anonymous; its counts are not suppressed in the lake (set access_level: "
        "non_public (counts shown elsewhere go through small-cell suppression))"
    ]
