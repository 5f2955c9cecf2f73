"""A labelled corpus of Danish note sentences for measuring the scrubber.

Each sentence plants one identifier of a person from a small synthetic
register — written the way hurried clinicians write it — inside clinical
context that holds *hard negatives*: numbers and words that look like
identifiers but are not (dates, times, doses, lab values, codes, drug names,
a surname used as a street name, Danish words that are also names). Every
planted identifier and every hard negative carries its character span, so a
detector can be scored by where it fires.

Variants, each planted ``repeat`` times with a fresh person and context:

* CPR numbers with every separator (none, hyphen, en/em dash with and without
  spaces, slash, dot, space) and with a dotted/dashed/slashed date part;
* phone numbers in every grouping, with and without +45 / 0045 / (+45);
* e-mail addresses;
* the person's names: as written, lower and upper case, first or last name
  alone, Danish possessive (``Lenes``, ``Bruuns``, ``Jens'``), initials
  (``L. Bruun``, ``Lene B.``, ``L.B.``), double first names; and relatives'
  names (other register persons);
* the person's street address, street alone, and postcode.

Deterministic for a seed; no file is read but the package's code lists.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from regionlab import codelists
from regionlab.privacy.names import KnownNames
from regionlab.privacy.person_rules import Identity
from regionlab.synth.population import STREETS

KINDS = ("cpr", "phone", "email", "name", "address", "postcode")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str  # the kind of a planted identifier, or what a hard negative is


@dataclass(frozen=True)
class Person:
    cpr: str  # DDMMYYSSSS
    first_name: str
    last_name: str
    street: str
    number: int
    floor: str
    postcode: str
    town: str
    phone: str  # 8 digits

    @property
    def address(self) -> str:
        return f"{self.street} {self.number}{self.floor}"

    def identity(self) -> Identity:
        return Identity(self.first_name, self.last_name, self.address, self.postcode)


@dataclass(frozen=True)
class Sentence:
    text: str
    identity: Identity
    variant: str  # "<kind>:<how it is written>"
    plants: tuple[Span, ...]
    negatives: tuple[Span, ...]


@dataclass
class Corpus:
    register: KnownNames
    people: list[Person]
    sentences: list[Sentence] = field(default_factory=list)

    def plants(self) -> int:
        return sum(len(s.plants) for s in self.sentences)

    def negatives(self) -> int:
        return sum(len(s.negatives) for s in self.sentences)


# --- the register -------------------------------------------------------------


def _cpr(rng: random.Random) -> str:
    born = date(1925, 1, 1) + timedelta(days=rng.randrange(0, 95 * 365))
    seventh = rng.choice("0123") if born.year < 2000 else "4"
    return f"{born:%d%m%y}{seventh}{rng.randrange(1000):03d}"


def _register(rng: random.Random, n: int) -> list[Person]:
    names = codelists.load("names")
    firsts = names.filter(names["kind"] != "last")["name"].to_list()
    lasts = names.filter(names["kind"] == "last")["name"].to_list()
    postcodes = codelists.load("postcodes").to_dicts()
    towns = dict(zip(*codelists.load("municipalities").select("code", "name"), strict=True))
    people = []
    for _ in range(n):
        first = rng.choice(firsts)
        if rng.random() < 0.12:  # two first names: "Anne Sofie"
            first = f"{first} {rng.choice(firsts)}"
        place = rng.choice(postcodes)
        people.append(
            Person(
                cpr=_cpr(rng),
                first_name=first,
                last_name=rng.choice(lasts),
                street=rng.choice(STREETS),
                number=rng.randrange(1, 160),
                floor=rng.choice(["", "", ", 1. th.", ", st. tv.", ", 2. mf."]),
                postcode=place["postcode"],
                town=towns[place["municipality_code"]],
                phone=str(rng.randrange(20_000_000, 100_000_000)),
            )
        )
    return people


# --- how identifiers are written -------------------------------------------------

Variant = tuple[str, str]  # (variant name, surface text)

_CPR_SEPARATORS = {
    "hyphen": "-",
    "none": "",
    "space": " ",
    "en dash": "–",
    "em dash": "—",
    "spaced en dash": " – ",
    "spaced hyphen": " - ",
    "spaced em dash": " — ",
    "slash": "/",
    "dot": ".",
}
_DATE_FORMS = {"": "", "dotted date": ".", "dashed date": "-", "slashed date": "/"}


def cpr_variants(p: Person) -> list[Variant]:
    body, serial = p.cpr[:6], p.cpr[6:]
    out = []
    for date_name, mark in _DATE_FORMS.items():
        written = mark.join((body[:2], body[2:4], body[4:])) if mark else body
        for sep_name, sep in _CPR_SEPARATORS.items():
            name = f"{sep_name}, {date_name}" if date_name else sep_name
            out.append((name, written + sep + serial))
    return out


def phone_variants(p: Person) -> list[Variant]:
    d = p.phone
    pairs = " ".join(d[i : i + 2] for i in range(0, 8, 2))
    return [
        ("8 digits", d),
        ("2-2-2-2 spaces", pairs),
        ("2-2-2-2 hyphens", pairs.replace(" ", "-")),
        ("2-2-2-2 dots", pairs.replace(" ", ".")),
        ("4-4 space", f"{d[:4]} {d[4:]}"),
        ("4-4 hyphen", f"{d[:4]}-{d[4:]}"),
        ("2-2-4", f"{d[:2]} {d[2:4]} {d[4:]}"),
        ("4-2-2", f"{d[:4]} {d[4:6]} {d[6:]}"),
        ("+45 8 digits", f"+45 {d}"),
        ("+45 no space", f"+45{d}"),
        ("+45 2-2-2-2", f"+45 {pairs}"),
        ("+45-4-4", f"+45-{d[:4]}-{d[4:]}"),
        ("0045 4-4", f"0045 {d[:4]} {d[4:]}"),
        ("0045 no space", f"0045{d}"),
        ("(+45) 4-4", f"(+45) {d[:4]} {d[4:]}"),
    ]


def _mailbox(p: Person) -> str:
    return p.first_name.split()[0].lower() + "." + p.last_name.lower()


def email_variants(p: Person) -> list[Variant]:
    box = _mailbox(p)
    initials = p.first_name[0].lower() + p.last_name[0].lower()
    return [
        ("first.last@gmail.com", f"{box}@gmail.com"),
        ("initials@hotmail.dk", f"{initials}{p.number}@hotmail.dk"),
        ("first_last@mail.tele.dk", box.replace(".", "_") + "@mail.tele.dk"),
        ("upper case", f"{box}@GMAIL.COM".upper()),
        ("first-last@yahoo.dk", box.replace(".", "-") + "@yahoo.dk"),
        ("with digits", f"{box}{p.number}@outlook.com"),
    ]


def _possessive(name: str) -> str:
    return name + "'" if name[-1] in "sxz" else name + "s"


def name_variants(p: Person, relative: Person) -> list[Variant]:
    first, last = p.first_name, p.last_name
    one = first.split()[0]
    full = f"{first} {last}"
    rel = f"{relative.first_name} {relative.last_name}"
    return [
        ("full name", full),
        ("lower case", full.lower()),
        ("upper case", full.upper()),
        ("first name", one),
        ("first name, lower case", one.lower()),
        ("last name", last),
        ("last name, lower case", last.lower()),
        ("possessive first name", _possessive(one)),
        ("possessive first name, lower case", _possessive(one).lower()),
        ("possessive last name", _possessive(last)),
        ("possessive full name, lower case", f"{first} {_possessive(last)}".lower()),
        ("English possessive", f"{last}'s"),
        ("initial and last name", f"{one[0]}. {last}"),
        ("initial glued to last name", f"{one[0]}.{last}"),
        ("first name and initial", f"{one} {last[0]}."),
        ("initials", f"{one[0]}.{last[0]}."),
        ("initials spaced", f"{one[0]}. {last[0]}."),
        ("relative's full name", rel),
        ("relative's full name, lower case", rel.lower()),
        ("relative's first name", relative.first_name.split()[0]),
        ("relative's last name, possessive", _possessive(relative.last_name)),
    ]


def address_variants(p: Person) -> list[Variant]:
    number = f"{p.street} {p.number}"
    return [
        ("street and number", number),
        ("with floor", f"{number}, 1. th."),
        ("lower case", number.lower()),
        ("upper case", number.upper()),
        ("street alone", p.street),
        ("street alone, lower case", p.street.lower()),
    ]


def postcode_variants(p: Person) -> list[Variant]:
    return [
        ("before town", p.postcode),
        ("after postnr.", p.postcode),
        ("in a full address", p.postcode),
    ]


# --- context: where identifiers stand, and the hard negatives around them ------------

_CONTEXT: dict[str, list[tuple[str, str]]] = {
    "cpr": [("CPR-nr. ", ""), ("cpr ", " ses i dag"), ("(", ")"), ("cpr:", ""),
            ("Pt. ", " er indlagt"), ("", " er vurderet"), ("personnr. ", ".")],
    "phone": [("Tlf. ", ""), ("tlf.", ""), ("mobil: ", ""), ("ring på ", " efter kl. 8"),
              ("kontakt datter på ", "."), ("(", ")")],
    "email": [("mail: ", ""), ("e-mail ", " oplyst"), ("<", ">"), ("skriv til ", ".")],
    "name": [("", " ses til kontrol"), ("Samtale med ", "."), ("", " datter ringede"),
             ("Pt. ", " er mobiliseret til stol"), ("Aftalt med ", " og ægtefælle"),
             ("Tlf.-samtale med ", ", som har det bedre")],
    "address": [("adresse ", ""), ("bor på ", " alene"), ("Hjemmeplejen kommer på ", "."),
                ("Ambulancen kører til ", ".")],
}  # fmt: skip

#: Hard negatives: text that looks like an identifier but is none.
NEGATIVES: dict[str, list[str]] = {
    "date": ["12.03.2024", "12-03-2024", "d. 12/3-24", "2024-03-12", "05.01.24 kl. 14.30",
             "kl. 08.15", "uge 12", "1/1-2025"],
    "dose": ["Fragmin 5000 IE x 1 dgl.", "Metformin 500 mg x 2", "Panodil 1 g x 4",
             "Insulatard 24 IE", "Ibuprofen 400 mg x 3", "Furix 40 mg", "Marevan efter INR",
             "Pinex 500 mg 2 x 4"],
    "lab": ["Hb 8,2 mmol/l", "HbA1c 53 mmol/mol", "CRP 120", "BT 142/88", "puls 72",
            "eGFR 58 ml/min", "p-kalium 3,9 mmol/l", "leukocytter 12,4 x 10^9/l", "INR 2,5",
            "temp. 38,2", "saturation 94 %", "vægt 82,5 kg"],
    "code": ["DE11", "A10BA02", "NPU27300", "rekv.nr. 1234567", "stue 12, seng 3", "KRS 2024-001"],
    "street": ["Bruuns Gade", "Jensens Plads", "H.C. Andersens Boulevard", "Hansensvej",
               "Vestergade", "Nielsens Allé"],
    "word": ["bor alene", "1 tablet per dag", "ønsker at bo hjemme", "går tur i skoven",
             "føler sig rask", "høj feber i nat", "i sommer", "lykkes med at gå", "mark og have",
             "kører storm på", "dam af vand"],
    # words that are register names when capitalised (a sentence start, a heading in capitals)
    "capitalised word": ["Høj feber i nat", "OBS: HØJ RISIKO FOR FALD", "Storm og regn i dag"],
}  # fmt: skip
_NEGATIVE_FRAMES = ("{} noteret.", "{}.", "Kl. 9: {}.", "I dag {}.")


def _collides(text: str, p: Person) -> bool:
    """A negative that contains one of the person's own names is not a negative for them."""
    words = {w.strip(".,").lower() for w in text.split()}
    own = {n.lower() for n in (*p.first_name.split(), p.last_name, p.street)}
    return bool(words & own) or any(o in text.lower() for o in own if len(o) >= 4)


class _Builder:
    """Joins text parts into a sentence while recording the spans of plants and negatives."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.plants: list[Span] = []
        self.negatives: list[Span] = []
        self.length = 0

    def text(self, value: str) -> None:
        self.parts.append(value)
        self.length += len(value)

    def mark(self, value: str, label: str, into: list[Span]) -> None:
        into.append(Span(self.length, self.length + len(value), label))
        self.text(value)

    def framed(self, frame: str, value: str, label: str, into: list[Span]) -> None:
        before, after = frame.split("{}")
        self.text(before)
        self.mark(value, label, into)
        self.text(after)

    def build(self) -> str:
        return "".join(self.parts)


def _negative(rng: random.Random, b: _Builder, p: Person) -> None:
    what = rng.choice(sorted(NEGATIVES))
    value = rng.choice(NEGATIVES[what])
    if _collides(value, p):
        return
    if b.length:
        b.text(" ")
    b.framed(rng.choice(_NEGATIVE_FRAMES), value, what, b.negatives)


def _sentence(
    rng: random.Random, p: Person, kind: str, variant: Variant, context: tuple[str, str]
) -> Sentence:
    b = _Builder()
    name, surface = variant
    if rng.random() < 0.7:
        _negative(rng, b, p)
        if b.length:
            b.text(" ")
    before, after = context
    if kind == "postcode":
        if name == "before town":
            before, after = "Flyttet til ", f" {p.town}."
        elif name == "after postnr.":
            before, after = "postnr. ", ""
        else:
            b.text("Adresse: ")
            b.mark(p.address, "address", b.plants)
            before, after = ", ", f" {p.town}"
    b.text(before)
    b.mark(surface, kind, b.plants)
    b.text(after)
    if rng.random() < 0.8:
        b.text(".")  # the next clause; clinicians are hurried, not run-on
        _negative(rng, b, p)
    return Sentence(b.build(), p.identity(), f"{kind}:{name}", tuple(b.plants), tuple(b.negatives))


def generate(seed: int = 2026, repeat: int = 6, persons: int = 400) -> Corpus:
    """The corpus: every variant ``repeat`` times (names three times as often)."""
    rng = random.Random(seed)
    people = _register(rng, persons)
    first = {p.first_name for p in people} | {n for p in people for n in p.first_name.split()}
    register = KnownNames.of(first, {p.last_name for p in people})
    corpus = Corpus(register=register, people=people)
    makers: dict[str, Callable[[Person], list[Variant]]] = {
        "cpr": cpr_variants,
        "phone": phone_variants,
        "email": email_variants,
        "address": address_variants,
        "postcode": postcode_variants,
    }
    for _ in range(repeat):
        for kind, make in makers.items():
            for index in range(len(make(people[0]))):
                p = rng.choice(people)
                variant = make(p)[index]
                context = rng.choice(_CONTEXT.get(kind, [("", "")]))
                corpus.sentences.append(_sentence(rng, p, kind, variant, context))
        for _ in range(3):
            for index in range(len(name_variants(people[0], people[1]))):
                p, relative = rng.sample(people, 2)
                variant = name_variants(p, relative)[index]
                context = rng.choice(_CONTEXT["name"])
                corpus.sentences.append(_sentence(rng, p, "name", variant, context))
    return corpus
