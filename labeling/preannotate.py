"""Pre-annotations: a dictionary and rule model over the region's own code lists.

Annotators correct suggestions faster than they mark from scratch, and a
dictionary model is transparent: diagnosis texts (SKS) become DIAGNOSE spans,
drug names (ATC) MEDICIN spans, and a regex finds doses ("500 mg", "2,5 mg",
"18 µg") as DOSIS. Its ``model_version`` is a hash of the code lists and
rules, so predictions from an older dictionary are recognisable in Label
Studio. It runs only over a project's sample (hundreds of texts), so a
compiled regex per text is cheap; it is never run over a whole product.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache

from regionlab import codelists

DIAGNOSE, MEDICIN, DOSIS = "DIAGNOSE", "MEDICIN", "DOSIS"
RULES_VERSION = "1"

_UNIT = r"(?:mg/ml|mg|mikrogram|µg|mcg|g|ml|IE|E|mmol)"
_DOSE = re.compile(rf"(?<![\w,.])\d+(?:[.,]\d+)?(?:/\d+(?:[.,]\d+)?)?\s?{_UNIT}(?![\w/])")
_W = r"[^\W_]"  # a letter or digit, Unicode-aware (æ, ø, å)


@dataclass(frozen=True)
class Prediction:
    label: str
    start: int
    end: int


def _terms() -> dict[str, str]:
    """Lower-cased term -> label. Diagnosis texts also without a trailing ' UNS'."""
    terms: dict[str, str] = {}
    for text in codelists.load("sks_diagnoses")["text_da"].to_list():
        terms[text.lower()] = DIAGNOSE
        if text.endswith(" UNS"):
            terms[text[:-4].lower()] = DIAGNOSE
    for name in codelists.load("atc")["name_da"].to_list():
        terms.setdefault(name.lower(), MEDICIN)
    return terms


@cache
def _model() -> tuple[re.Pattern[str], dict[str, str], str]:
    terms = _terms()
    ordered = sorted(terms, key=lambda t: (-len(t), t))  # longest first: most specific wins
    pattern = re.compile(
        rf"(?<!{_W})(?:{'|'.join(re.escape(t) for t in ordered)})(?!{_W})", re.IGNORECASE
    )
    digest = hashlib.sha256(
        "\n".join([RULES_VERSION, _DOSE.pattern, *(f"{t}\t{terms[t]}" for t in ordered)]).encode()
    ).hexdigest()[:10]
    return pattern, terms, f"regionlab-dictionary-{RULES_VERSION}-{digest}"


def model_version() -> str:
    return _model()[2]


def predict(text: str, labels: frozenset[str] | set[str] | None = None) -> list[Prediction]:
    """Non-overlapping spans, sorted; only labels in ``labels`` (all when None)."""
    pattern, terms, _ = _model()
    found = [
        Prediction(terms[m.group(0).lower()], m.start(), m.end()) for m in pattern.finditer(text)
    ]
    taken = [(p.start, p.end) for p in found]
    for m in _DOSE.finditer(text):
        if not any(m.start() < e and s < m.end() for s, e in taken):
            found.append(Prediction(DOSIS, m.start(), m.end()))
    keep = [p for p in found if labels is None or p.label in labels]
    return sorted(keep, key=lambda p: (p.start, p.end))


def to_result(text: str, predictions: list[Prediction], control: str, to_name: str) -> list[dict]:
    """Label Studio prediction results for one text (the ``result`` of a prediction)."""
    return [
        {
            "id": f"p{i}",
            "from_name": control,
            "to_name": to_name,
            "type": "labels",
            "value": {
                "start": p.start,
                "end": p.end,
                "text": text[p.start : p.end],
                "labels": [p.label],
            },
        }
        for i, p in enumerate(predictions)
    ]
