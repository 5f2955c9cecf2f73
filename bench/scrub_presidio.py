"""Microsoft Presidio, set up as the library would be for Danish notes, as a point of comparison.

Only imported by ``bench.scrub_eval --presidio``; Presidio is not a dependency
of the project. Run it in a throw-away environment::

    .tools/bin/uv run --frozen --with presidio-analyzer==2.2.366 \\
        --with presidio-anonymizer==2.2.366 python -m bench.scrub_eval --presidio

Configuration, offline: a blank Danish spaCy pipeline (tokeniser only — no
model is downloaded; Presidio's own loader would call ``spacy.cli.download``
for a missing model), Presidio's ``PhoneRecognizer`` with region DK (Google's
``phonenumbers``), its ``EmailRecognizer``, a ``PatternRecognizer`` with our
CPR shape (Presidio ships no Danish recogniser), and a deny-list
``PatternRecognizer`` with the register's names (Presidio's deny lists match
case-insensitively). It has no address or per-person recogniser.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from regionlab.privacy.identifiers import CPR
from regionlab.privacy.names import KnownNames

Detector = Callable[[str], list[tuple[int, int, str]]]


def presidio_detector(register: KnownNames) -> Detector:
    """A function text → [(start, end, entity)] backed by a Presidio AnalyzerEngine."""
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    class BlankDanish(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"da": spacy.blank("da")}

    # tldextract would fetch the public suffix list over the network on first use: use the
    # snapshot the package ships instead.
    offline = tldextract.TLDExtract(suffix_list_urls=())
    email_recognizer.tldextract = SimpleNamespace(extract=offline)

    nlp = BlankDanish(models=[{"lang_code": "da", "model_name": "blank"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["da"])
    registry.add_recognizer(EmailRecognizer(supported_language="da"))
    registry.add_recognizer(PhoneRecognizer(supported_language="da", supported_regions=("DK",)))
    cpr = Pattern("cpr", CPR.lookaround(), 0.9)
    registry.add_recognizer(PatternRecognizer("DK_CPR", supported_language="da", patterns=[cpr]))
    names = sorted(set(register.first) | set(register.last))
    registry.add_recognizer(PatternRecognizer("PERSON", supported_language="da", deny_list=names))
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["da"])

    def detect(text: str) -> list[tuple[int, int, str]]:
        return [(r.start, r.end, r.entity_type) for r in analyzer.analyze(text, language="da")]

    return detect
