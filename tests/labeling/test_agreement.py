"""Fast tests without a server: agreement maths, label configs, annotation validation,
the dictionary model, labelling specs and the reproducible sample."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from labeling import preannotate
from labeling.agreement import (
    cohen_kappa,
    consensus_choice,
    consensus_spans,
    kappas,
    span_f1s,
    span_scores,
)
from labeling.config import parse_result
from regionlab.spec import load_domains
from regionlab.spec.labeling import LabelConfigError, LabelingTask, parse_config
from regionlab.spec.loader import collect
from regionlab.spec.models import Product

REPO = Path(__file__).resolve().parents[2]
NOTES_YAML = REPO / "domains" / "clinical_notes" / "notes.yaml"


# --------------------------------------------------------------------------- agreement


def test_kappa_matches_hand_computation() -> None:
    # A: s s f u / B: s f f u → p_o = 3/4; p_e = (2·1 + 1·2 + 1·1)/16 = 5/16; κ = 7/11.
    observed, expected, kappa = cohen_kappa([("s", "s"), ("s", "f"), ("f", "f"), ("u", "u")])
    assert observed == 0.75 and expected == 5 / 16
    assert kappa == pytest.approx(7 / 11)


def test_kappa_perfect_disagreement_and_undefined() -> None:
    assert cohen_kappa([("a", "b"), ("b", "a")])[2] == pytest.approx(-1.0)
    assert cohen_kappa([("a", "a"), ("a", "a")])[2] is None  # chance agreement 1
    assert cohen_kappa([])[2] is None


def test_kappas_only_count_documents_both_classified() -> None:
    result = kappas({"c": {"x": {"d1": "a", "d2": "b", "d3": "a"}, "y": {"d1": "a", "d2": "b"}}})
    [k] = result
    assert (k.annotators, k.items, k.agreed, k.kappa) == (("x", "y"), 2, 2, 1.0)


def test_span_f1_exact_and_overlap_by_hand() -> None:
    a = [{(0, 5, "D"), (10, 14, "M")}, {(3, 8, "D")}]
    b = [{(0, 6, "D")}, {(3, 8, "D"), (20, 22, "D")}]
    na, nb, exact, exact_f1, overlap_f1 = span_scores(a, b)
    assert (na, nb, exact) == (3, 3, 1)
    assert exact_f1 == pytest.approx(2 * 1 / 6)
    # B's spans overlapping one of A's: (0,6) yes, (3,8) yes, (20,22) no → P = 2/3.
    # A's spans overlapping one of B's: (0,5) yes, (10,14) no, (3,8) yes → R = 2/3.
    assert overlap_f1 == pytest.approx(2 / 3)


def test_overlap_needs_the_same_label() -> None:
    assert span_scores([{(0, 5, "D")}], [{(0, 5, "M")}])[3:] == (0.0, 0.0)


def test_span_f1s_per_label_and_micro() -> None:
    spans = {
        "x": {"d1": {(0, 5, "D"), (6, 9, "M")}, "d2": set()},
        "y": {"d1": {(0, 5, "D")}, "d2": {(1, 2, "M")}},
    }
    by_label = {f.label: f for f in span_f1s(spans, ["D", "M"])}
    assert by_label["D"].exact_f1 == 1.0
    assert by_label["M"].exact_f1 == 0.0 and (by_label["M"].spans_a, by_label["M"].spans_b) == (
        1,
        1,
    )
    assert by_label["*"].exact_f1 == pytest.approx(2 * 1 / 4)


def test_consensus() -> None:
    assert consensus_spans([{(0, 1, "D"), (2, 3, "M")}, {(0, 1, "D")}]) == [(0, 1, "D")]
    assert consensus_spans([{(0, 1, "D")}]) == [(0, 1, "D")]  # a single annotator is the consensus
    assert consensus_choice(["a", "a", "b"]) == "a"
    assert consensus_choice(["a", "b"]) is None


# --------------------------------------------------------------------------- configs


def _task(**kw) -> LabelingTask:
    base = {"id": "t", "title": "T", "text_column": "text"}
    return LabelingTask.model_validate(base | kw)


def test_generated_config_parses_to_its_labels_and_choices() -> None:
    task = _task(
        labels=["DIAGNOSE", "UNDERSØGELSE"], choices=["stabil", "bedring"], instructions="x<y & z"
    )
    schema = parse_config(task.config_xml())
    assert schema.entity_labels == {"DIAGNOSE", "UNDERSØGELSE"}
    assert set(schema.choices["document_class"]) == {"stabil", "bedring"}
    assert task.kind.value == "both"


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<View><Text name='t' value='$text'/>", "not well-formed"),
        ("<Foo/>", "root tag is <Foo>"),
        (
            "<View><Text name='t' value='$body'/>"
            "<Choices name='c' toName='t'><Choice value='a'/></Choices></View>",
            'value="$text"',
        ),
        ("<View><Text name='t' value='$text'/></View>", "<Labels> or <Choices>"),
        (
            "<View><Text name='t' value='$text'/>"
            "<Labels name='l' toName='x'><Label value='A'/></Labels></View>",
            'toName="t"',
        ),
        (
            "<View><Text name='t' value='$text'/><Labels name='l' toName='t'></Labels></View>",
            "needs <Label",
        ),
    ],
)
def test_bad_configs_are_refused(xml: str, message: str) -> None:
    with pytest.raises(LabelConfigError, match=re.escape(message)):
        parse_config(xml)


def test_task_needs_labels_choices_or_config() -> None:
    with pytest.raises(ValueError, match="give `labels`"):
        _task()
    with pytest.raises(ValueError, match="either"):
        _task(labels=["A"], label_config="<View/>")


# --------------------------------------------------------------------------- annotation validation

TEXT = "Pt. med Sepsis får Metformin 500 mg."
SCHEMA = parse_config(
    _task(labels=["DIAGNOSE", "MEDICIN", "DOSIS"], choices=["stabil"]).config_xml()
)


def _span(start: int, end: int, label: str, text: str | None = None) -> dict:
    value = {"start": start, "end": end, "labels": [label]}
    value["text"] = TEXT[start:end] if text is None else text
    return {"from_name": "entities", "to_name": "text", "type": "labels", "value": value}


def test_valid_annotation_parses() -> None:
    s = TEXT.index("Sepsis")
    result = [
        _span(s, s + 6, "DIAGNOSE"),
        {
            "from_name": "document_class",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["stabil"]},
        },
    ]
    parsed = parse_result(result, TEXT, SCHEMA)
    assert parsed.valid
    assert [(x.label, x.start, x.end) for x in parsed.spans] == [("DIAGNOSE", s, s + 6)]
    assert [c.label for c in parsed.choices] == ["stabil"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (_span(0, 3, "FOO"), "label 'FOO' is not in the label config"),
        (_span(30, 99, "DOSIS", text="x"), "outside the text"),
        (_span(0, 3, "DOSIS", text="Sep"), "does not match"),
        (
            {
                "from_name": "document_class",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": ["død"]},
            },
            "choice 'død'",
        ),
        (
            {"from_name": "other", "to_name": "text", "type": "textarea", "value": {}},
            "not in the label config",
        ),
    ],
)
def test_invalid_annotations_name_the_problem(item: dict, message: str) -> None:
    parsed = parse_result([item], TEXT, SCHEMA)
    assert not parsed.valid
    assert any(message in p for p in parsed.problems), parsed.problems
    assert "Sepsis" not in " ".join(parsed.problems)  # never quotes the text


# --------------------------------------------------------------------------- pre-annotation


def test_dictionary_model_finds_diagnoses_drugs_and_doses() -> None:
    text = "Kendt med Type 2-diabetes uden komplikationer. Får metformin 500 mg og Warfarin 2,5 mg."
    found = [(p.label, text[p.start : p.end]) for p in preannotate.predict(text)]
    assert found == [
        ("DIAGNOSE", "Type 2-diabetes uden komplikationer"),
        ("MEDICIN", "metformin"),
        ("DOSIS", "500 mg"),
        ("MEDICIN", "Warfarin"),
        ("DOSIS", "2,5 mg"),
    ]
    only = preannotate.predict(text, {"DOSIS"})
    assert {p.label for p in only} == {"DOSIS"}
    assert preannotate.model_version().startswith("regionlab-dictionary-")


def test_dictionary_model_respects_word_boundaries() -> None:
    assert preannotate.predict("Metforminer og 500mgx") == []


# --------------------------------------------------------------------------- specs


def test_notes_spec_declares_a_valid_labelling_task() -> None:
    product = load_domains().product("clinical_notes/notes")
    [task] = product.labeling
    assert task.kind.value == "both" and task.key_columns(product) == ["note_id"]
    assert {"DIAGNOSE", "MEDICIN", "DOSIS", "UNDERSØGELSE"} <= task.schema().entity_labels


def _check_with(tmp_path: Path, change) -> list[str]:
    root = tmp_path / "domains"
    shutil.copytree(REPO / "domains", root)
    path = root / "clinical_notes" / "notes.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["labeling"][0])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _, problems = collect(root)
    return [p.render(root.parent) for p in problems]


def test_check_names_a_missing_or_non_text_column(tmp_path: Path) -> None:
    problems = _check_with(tmp_path, lambda t: t.update(text_column="tekst"))
    assert problems == [
        "domains/clinical_notes/notes.yaml: labeling[entities].text_column: no published column "
        "'tekst' (choose one of: author_role, contact_id, note_id, note_type, person_key, text, "
        "written_at)"
    ]
    problems = _check_with(tmp_path / "b", lambda t: t.update(text_column="written_at"))
    assert problems == [
        "domains/clinical_notes/notes.yaml: labeling[entities].text_column: 'written_at' is "
        "timestamp, not varchar"
    ]


def test_check_refuses_a_person_key_as_row_key_and_a_broken_config(tmp_path: Path) -> None:
    problems = _check_with(tmp_path, lambda t: t.update(row_key=["person_key"]))
    assert len(problems) == 1 and "'person_key' identifies a person" in problems[0]

    def broken(t: dict) -> None:
        t.pop("labels"), t.pop("choices")
        t["label_config"] = "<View><Text name='t' value='$text'/>"

    problems = _check_with(tmp_path / "b", broken)
    assert len(problems) == 1
    assert (
        "labeling[entities].label_config: label config is not usable: not well-formed"
        in problems[0]
    )


def test_product_schema_knows_labeling() -> None:
    assert "labeling" in Product.model_json_schema()["properties"]
