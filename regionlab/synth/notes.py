"""Danish clinical notes (EPJ) that embed the identifiers a scrubber must remove.

Every note names the patient and carries their CPR number (with or without the
dash), and some carry a phone number — the realistic hard case for free-text
pseudonymisation. Templates are filled column-wise with polars, not row by row.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from regionlab import codelists
from regionlab.synth.diagnoses import _ids

NOTE_TYPES = ("indlæggelsesnotat", "ambulant notat", "epikrise", "sygeplejenotat")
AUTHOR_ROLES = {
    "indlæggelsesnotat": ("reservelæge", "læge i hoveduddannelse", "overlæge"),
    "ambulant notat": ("overlæge", "afdelingslæge", "sygeplejerske"),
    "epikrise": ("reservelæge", "afdelingslæge"),
    "sygeplejenotat": ("sygeplejerske", "social- og sundhedsassistent"),
}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "indlæggelsesnotat": (
        "Indlæggelsesnotat. {name}, CPR-nr. {cpr}, indlægges akut i {dept} med {diag}. "
        "Patienten er vågen og klar. BT {sys}/{dia}, puls {pulse}. Plan: blodprøver, "
        "observation og vurdering ved stuegang.{phone}",
        "Pt. {name} ({cpr}) indlagt via akutmodtagelsen, henvist med {diag}. Objektivt let "
        "påvirket almentilstand, BT {sys}/{dia}. Ordineret væske og smertebehandling.{phone}",
    ),
    "ambulant notat": (
        "Ambulant kontrol, {dept}. {name}, cpr {cpr}, ses til kontrol af {diag}. Har det "
        "overordnet godt, ingen nye symptomer. Fortsætter vanlig behandling, ny kontrol om "
        "3 måneder.{phone}",
        "{name} ({cpr}) møder til planlagt samtale vedr. {diag}. Blodprøver gennemgået med "
        "patienten. Medicin uændret. BT {sys}/{dia}.{phone}",
    ),
    "epikrise": (
        "Epikrise. {name}, CPR {cpr}, har været indlagt i {dept} med {diag}. Forløbet har "
        "været ukompliceret. Udskrives til eget hjem, opfølgning hos egen læge.{phone}",
    ),
    "sygeplejenotat": (
        "Sygeplejenotat: {first} har sovet uroligt i nat og fået smertestillende. {name} "
        "({cpr}) er mobiliseret til stol, puls {pulse}.{phone}",
        "Sygepleje: {name}, cpr-nr {cpr}, observeres for {diag}. Spiser og drikker "
        "tilstrækkeligt.{phone}",
    ),
}
PHONE_PHRASES = (
    " Kan træffes på tlf. {phone}.",
    " Patienten ønsker opkald på {phone}.",
    " Telefon {phone} noteret som kontaktnummer.",
)


def _fill(template: str) -> pl.Expr:
    """A template with ``{column}`` fields as one string expression."""
    parts = re.split(r"\{(\w+)\}", template)
    exprs = [pl.lit(p) if i % 2 == 0 else pl.col(p) for i, p in enumerate(parts) if p != ""]
    return pl.concat_str(exprs)


def generate_notes(
    contacts: pl.DataFrame,
    persons: pl.DataFrame,
    a_codes: np.ndarray,
    rng: np.random.Generator,
    first_id: int,
) -> pl.DataFrame:
    """Notes for about a quarter of the contacts; ``a_codes`` aligns with ``contacts``."""
    m = contacts.height
    rows = np.flatnonzero(rng.random(m) < 0.25)
    n = rows.size
    akut = contacts["priority"].to_numpy()[rows] == "akut"
    ongoing = contacts["end_time"].is_null().to_numpy()[rows]
    akut_type = rng.choice([0, 3, 2], n, p=[0.5, 0.3, 0.2])
    planned_type = rng.choice([1, 3], n, p=[0.85, 0.15])
    ntype = np.where(akut, akut_type, planned_type)
    ntype = np.where((ntype == 2) & ongoing, 0, ntype)  # no discharge letter before discharge
    variant = rng.integers(0, 2, n)

    person = contacts["person_idx"].to_numpy()[rows]
    first = persons["first_name"].gather(person)
    last = persons["last_name"].gather(person)
    cpr = persons["cpr"].gather(person)
    phone = persons["phone"].gather(person)
    with_dash = rng.random(n) < 0.6
    show_phone = (rng.random(n) < 0.35) & persons["phone"].is_not_null().to_numpy()[person]
    phrase = rng.integers(0, len(PHONE_PHRASES), n)

    deps = codelists.load("departments")
    dep_name = dict(zip(deps["department_code"], deps["department_name"], strict=True))
    diag = codelists.load("sks_diagnoses")
    diag_text = dict(zip(diag["code"], diag["text_da"], strict=True))
    start = contacts["start_time"].to_numpy().astype("datetime64[s]")[rows]
    end = contacts["end_time"].to_numpy().astype("datetime64[s]")[rows]
    written = np.where(ntype == 2, end, start + rng.integers(10, 180, n) * np.timedelta64(60, "s"))

    frame = pl.DataFrame(
        {
            "note_id": _ids("N", first_id, n),
            "cpr": cpr,
            "contact_id": contacts["contact_id"].gather(rows),
            "ntype": ntype,
            "written_at": written.astype("datetime64[us]"),
            "role_pick": rng.random(n),
            "variant": variant,
            "first": first,
            "name": first + " " + last,
            "with_dash": with_dash,
            "phone": phone,
            "show_phone": show_phone,
            "phrase": phrase,
            "dept": contacts["department_code"].gather(rows),
            "diag": a_codes[rows].astype(str),
            "sys": rng.integers(105, 175, n),
            "dia": rng.integers(60, 100, n),
            "pulse": rng.integers(55, 110, n),
        },
        schema_overrides={"phone": pl.Utf8, "first": pl.Utf8, "cpr": pl.Utf8},
    ).with_columns(
        pl.col("dept").replace_strict(dep_name, return_dtype=pl.Utf8),
        pl.col("diag").replace_strict(diag_text, default="", return_dtype=pl.Utf8),
        pl.when(pl.col("with_dash"))
        .then(pl.col("cpr"))
        .otherwise(pl.col("cpr").str.replace("-", "", literal=True))
        .alias("cpr_text"),
        pl.col("sys").cast(pl.Utf8),
        pl.col("dia").cast(pl.Utf8),
        pl.col("pulse").cast(pl.Utf8),
    )
    frame = frame.with_columns(
        pl.col("diag").str.slice(0, 1).str.to_lowercase() + pl.col("diag").str.slice(1)
    )
    phone_expr = pl.lit("")
    for i, phrase_text in enumerate(PHONE_PHRASES):
        phone_expr = (
            pl.when(pl.col("show_phone") & (pl.col("phrase") == i))
            .then(_fill(phrase_text))
            .otherwise(phone_expr)
        )
    frame = frame.with_columns(phone_expr.alias("phone")).with_columns(
        pl.col("cpr_text").alias("cpr_in_text")
    )
    text = pl.lit(None, dtype=pl.Utf8)
    role = pl.lit(None, dtype=pl.Utf8)
    for t, note_type in enumerate(NOTE_TYPES):
        for v, template in enumerate(TEMPLATES[note_type]):
            last_variant = v == len(TEMPLATES[note_type]) - 1
            pick_variant = pl.col("variant") >= v if last_variant else pl.col("variant") == v
            cond = (pl.col("ntype") == t) & pick_variant
            text = (
                pl.when(cond)
                .then(_fill(template.replace("{cpr}", "{cpr_in_text}")))
                .otherwise(text)
            )
        roles = AUTHOR_ROLES[note_type]
        pick = (pl.col("role_pick") * len(roles)).floor().cast(pl.Int64)
        role_expr = pl.lit(roles[-1])
        for r in range(len(roles) - 1, -1, -1):
            role_expr = pl.when(pick == r).then(pl.lit(roles[r])).otherwise(role_expr)
        role = pl.when(pl.col("ntype") == t).then(role_expr).otherwise(role)
    note_type_expr = pl.col("ntype").replace_strict(
        dict(enumerate(NOTE_TYPES)), return_dtype=pl.Utf8
    )
    return frame.select(
        "note_id",
        "cpr",
        "contact_id",
        note_type_expr.alias("note_type"),
        "written_at",
        role.alias("author_role"),
        text.alias("text"),
    )
