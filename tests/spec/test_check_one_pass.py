"""`regionlab check` in one pass: schema and semantic problems together, "did you mean" for
misspelled keys, and rules on columns of a type they cannot judge."""

from __future__ import annotations

from pathlib import Path

from tests.spec.conftest import edit
from tests.spec.test_spec_messages import Problems

NOTES = "clinical_notes/notes.yaml"  # no derived product reads notes: no follow-on problems
LAB = "laboratory/lab_results.yaml"


def test_schema_and_semantic_problems_of_one_file_in_one_pass(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(domains_copy / NOTES, "keywords:", "keywrds:")  # schema: an unknown key
    edit(domains_copy / NOTES, "    column: note_type\n", "    column: note_typ\n")  # semantic
    edit(domains_copy / NOTES, "glossary_terms: [kontakt]", "glossary_terms: [kontakter]")
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: keywrds: Extra inputs are not permitted "
        "(did you mean 'keywords'?)",
        "domains/clinical_notes/notes.yaml: quality[note_type_valid]: uses column 'note_typ', "
        "which is not published (did you mean 'note_type'?)",
        "domains/clinical_notes/notes.yaml: columns[contact_id].glossary_terms: unknown glossary "
        "term 'kontakter' (add it to domains/glossary.yaml)",
    ]


def test_misspelled_required_key_is_named_once_and_read_as_meant(
    domains_copy: Path, problems_of: Problems
) -> None:
    # `colum` is the rule's required `column` misspelled: one problem (not also "Field
    # required"), and the rule is still checked with the column it means.
    edit(
        domains_copy / NOTES,
        "    type: in_set\n    column: note_type\n",
        "    type: in_set\n    colum: note_typee\n",
    )
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: quality[note_type_valid].colum: Extra inputs are not "
        "permitted (did you mean 'column'?)",
        "domains/clinical_notes/notes.yaml: quality[note_type_valid]: uses column 'note_typee', "
        "which is not published (did you mean 'note_type'?)",
    ]


def test_an_invalid_optional_value_does_not_hide_other_problems(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(domains_copy / NOTES, "    threshold: 0.02\n    description: Hændelser",
         "    threshold: 2\n    description: Hændelser")  # fmt: skip
    edit(domains_copy / NOTES, "glossary_terms: [kontakt]", "glossary_terms: [kontakter]")
    found = problems_of(domains_copy)
    assert len(found) == 2, found
    assert found[0].startswith(
        "domains/clinical_notes/notes.yaml: quality[written_not_in_future].threshold: "
        "Input should be less than or equal to 1"
    )
    assert found[1] == (
        "domains/clinical_notes/notes.yaml: columns[contact_id].glossary_terms: unknown glossary "
        "term 'kontakter' (add it to domains/glossary.yaml)"
    )


def test_between_on_a_varchar_column_is_an_error(domains_copy: Path, problems_of: Problems) -> None:
    edit(
        domains_copy / NOTES,
        "    type: in_set\n    column: note_type\n    values: [indlæggelsesnotat, ambulant notat, "
        "epikrise, sygeplejenotat]\n",
        "    type: between\n    column: note_type\n    min: 1\n    max: 4\n",
    )
    assert problems_of(domains_copy) == [
        "domains/clinical_notes/notes.yaml: quality[note_type_valid].column: between needs a "
        "numeric, date or timestamp column; 'note_type' is varchar (point the rule at a numeric, "
        "date or timestamp column, or change the column's type)"
    ]


def test_rule_bounds_and_columns_of_the_wrong_kind(
    domains_copy: Path, problems_of: Problems
) -> None:
    # A date bound on a numeric column, not_in_future on text, a regex on a timestamp.
    edit(domains_copy / "research/readmissions_30d.yaml", "    min: 0\n    max: 30\n",
         "    min: 2020-01-01\n    max: 30\n")  # fmt: skip
    edit(domains_copy / NOTES, "    type: not_in_future\n    column: written_at\n",
         "    type: not_in_future\n    column: author_role\n")  # fmt: skip
    completeness = "    type: completeness\n    column: text\n    max_null_share: 0.01\n"
    regex = "    type: regex\n    column: written_at\n    pattern: '[0-9]+'\n"
    edit(domains_copy / NOTES, completeness, regex)
    found = problems_of(domains_copy)
    assert (
        "domains/research/readmissions_30d.yaml: quality[days_within_window].min: 2020-01-01 does "
        "not fit column 'days_between' (bigint) (give a number)"
    ) in found, found
    assert (
        "domains/clinical_notes/notes.yaml: quality[written_not_in_future].column: not_in_future "
        "needs a date or timestamp column; 'author_role' is varchar (point the rule at a date or "
        "timestamp column, or change the column's type)"
    ) in found, found
    assert (
        "domains/clinical_notes/notes.yaml: quality[text_complete].column: regex needs a varchar "
        "column; 'written_at' is timestamp (point the rule at a varchar column, or change the "
        "column's type)"
    ) in found, found


def test_no_follow_on_problem_about_a_value_left_at_its_default(
    domains_copy: Path, problems_of: Problems
) -> None:
    # Read past the bad value, `pseudonymisation` would default to keep, and "a direct
    # identifier must not be published as is" would blame a value the steward never wrote.
    edit(domains_copy / NOTES, "pseudonymisation: person_key", "pseudonymisation: person_kee")
    found = problems_of(domains_copy)
    assert len(found) == 1, found
    assert found[0].startswith(
        "domains/clinical_notes/notes.yaml: columns[cpr].pseudonymisation: Input should be"
    )


def test_a_misspelled_rule_type_gets_a_did_you_mean(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(domains_copy / NOTES, "    type: in_set\n    column: note_type\n",
         "    type: in_sett\n    column: note_type\n")  # fmt: skip
    found = problems_of(domains_copy)
    assert len(found) == 1, found
    assert found[0].startswith("domains/clinical_notes/notes.yaml: quality[note_type_valid]")
    assert found[0].endswith("(did you mean 'in_set'?)"), found
