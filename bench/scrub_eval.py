"""Recall, precision and speed of the note scrubber and the identifier gate.

Usage::

    .tools/bin/uv run --frozen python -m bench.scrub_eval                # ≈ 2 min
    .tools/bin/uv run --frozen python -m bench.scrub_eval --notes 1000000
    .tools/bin/uv run --frozen --with presidio-analyzer==2.2.366 \\
        --with presidio-anonymizer==2.2.366 python -m bench.scrub_eval --presidio

Accuracy is measured on the labelled corpus of :mod:`bench.scrub_corpus`: a
planted identifier counts as caught when every letter and digit of it lies in
a replaced span; a hard negative is a false positive when any of its letters
or digits does. The spans come from the Python reference, and the production
path (DuckDB table → polars → per-person rules → UPDATE) is checked to give
exactly the reference's text for every sentence, so the numbers hold for it.
The identifier gate is run on the unscrubbed and on the scrubbed corpus.

Speed: ``--notes`` notes of about 500 characters, each eight corpus sentences
(two about the note's person), scrubbed by each path in the same run; ratios
are to the scrubber this branch replaced (read from git, ``--previous``).
Results go to ``bench/results/scrub.json`` and the block between the scrub
markers of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from bench.scrub_corpus import KINDS, Corpus, Sentence, generate
from regionlab.privacy import scrub
from regionlab.privacy.person_rules import IDENTITY_COLUMNS, Identity, candidates, has_identity

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results" / "scrub.json"
RESULTS_MD = HERE / "RESULTS.md"
START, END = "<!-- scrub:start -->", "<!-- scrub:end -->"
COMMAND = ".tools/bin/uv run --frozen python -m bench.scrub_eval"

Spans = list[tuple[int, int, str]]
Detector = Callable[[Sentence], Spans]


# --- accuracy --------------------------------------------------------------------


def _letters(text: str, start: int, end: int) -> list[int]:
    return [i for i in range(start, end) if text[i].isalnum()]


def score(corpus: Corpus, detect: Detector) -> dict[str, Any]:
    """Recall per kind and variant, false positives per kind of hard negative, precision."""
    planted: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    missed_variants: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    false_hits: Counter[str] = Counter()
    spans_total = spans_on_plants = 0
    for sentence in corpus.sentences:
        spans = detect(sentence)
        covered = {i for start, end, _ in spans for i in range(start, end)}
        for plant in sentence.plants:
            planted[plant.label] += 1
            if all(i in covered for i in _letters(sentence.text, plant.start, plant.end)):
                caught[plant.label] += 1
            else:
                missed_variants[sentence.variant] += 1
        for negative in sentence.negatives:
            negatives[negative.label] += 1
            if any(i in covered for i in _letters(sentence.text, negative.start, negative.end)):
                false_hits[negative.label] += 1
        for start, end, _ in spans:
            spans_total += 1
            spans_on_plants += any(p.start < end and start < p.end for p in sentence.plants)
    return {
        "planted": dict(planted),
        "caught": dict(caught),
        "missed_variants": dict(missed_variants),
        "negatives": dict(negatives),
        "false_positives": dict(false_hits),
        "spans": spans_total,
        "spans_on_plants": spans_on_plants,
    }


def reference_detector(corpus: Corpus) -> Detector:
    return lambda s: scrub.scrub_spans(s.text, corpus.register, s.identity)[1]


def _identity_frame(identities: Iterable[Identity]) -> pl.DataFrame:
    rows = list(identities)
    return pl.DataFrame(
        {c: [getattr(i, c) for i in rows] for c in IDENTITY_COLUMNS},
        schema=dict.fromkeys(IDENTITY_COLUMNS, pl.Utf8),
    )


def _load(con: duckdb.DuckDBPyConnection, texts: list[str], identities: list[Identity]) -> None:
    """Tables ``notes`` (rid, person_key, text) and ``ids`` (the identities by person_key)."""
    keys = [f"p{i}" for i in range(len(texts))]
    notes = pl.DataFrame({"rid": range(len(texts)), "person_key": keys, "text": texts})
    ids = _identity_frame(identities).with_columns(pl.Series("person_key", keys))
    con.register("notes_frame", notes.to_arrow())
    con.register("ids_frame", ids.to_arrow())
    con.execute("CREATE OR REPLACE TABLE notes AS SELECT * FROM notes_frame")
    con.execute("CREATE OR REPLACE TABLE ids AS SELECT * FROM ids_frame")
    con.unregister("notes_frame")
    con.unregister("ids_frame")


def engine_agreement(corpus: Corpus) -> dict[str, Any]:
    """The production path gives the reference's text, and the gate sees what it should."""
    texts = [s.text for s in corpus.sentences]
    identities = [s.identity for s in corpus.sentences]
    expected = [
        scrub.scrub_text(t, corpus.register, i) for t, i in zip(texts, identities, strict=True)
    ]
    con = duckdb.connect()
    _load(con, texts, identities)
    table = scrub.IdentityTable("ids")
    columns = ["text"]

    before = _row_flags(con, corpus, table)
    scrub.scrub_column(con, "notes", "text", corpus.register, identities=table, batch_rows=200)
    got = [r[0] for r in con.execute("SELECT text FROM notes ORDER BY rid").fetchall()]
    after = scrub.find_identifier_shapes(
        con, "notes", columns, corpus.register, table, person_columns=columns
    )["text"]
    return {
        "sentences": len(texts),
        "engine_equals_reference": sum(a == b for a, b in zip(got, expected, strict=True)),
        "gate_rows_flagged_before": before,
        "sentences_with_plants": sum(bool(s.plants) for s in corpus.sentences),
        "gate_counts_after": after,
    }


def _row_flags(con: duckdb.DuckDBPyConnection, corpus: Corpus, table: scrub.IdentityTable) -> int:
    """Sentences the gate's rules flag: any register-wide kind (in DuckDB) or the person's own."""
    tests = " OR ".join(scrub.identifier_tests_sql("n.text", corpus.register).values())
    frame = con.execute(
        f"SELECT ({tests}) AS hit, n.text, {table.select('i')} FROM notes AS n "
        f"{table.join('n', 'i')} ORDER BY n.rid"
    ).pl()
    people = [Identity(*row) for row in frame.select(IDENTITY_COLUMNS).iter_rows()]
    own = [has_identity(t, p) for t, p in zip(frame["text"], people, strict=True)]
    return sum(hit or mine for hit, mine in zip(frame["hit"], own, strict=True))


# --- speed -----------------------------------------------------------------------


def _notes(corpus: Corpus, n: int, seed: int = 7) -> tuple[list[str], list[Identity]]:
    rng = random.Random(seed)
    by_person: dict[Identity, list[str]] = {}
    for s in corpus.sentences:
        by_person.setdefault(s.identity, []).append(s.text)
    people = list(by_person)
    filler = [s.text for s in corpus.sentences]
    texts, identities = [], []
    for _ in range(n):
        person = rng.choice(people)
        own = rng.sample(by_person[person], min(2, len(by_person[person])))
        texts.append(" ".join(own + rng.sample(filler, 6)))
        identities.append(person)
    return texts, identities


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _previous_scrubber(revision: str) -> Callable[[pl.Series, list[str]], object] | None:
    """``scrub_series`` of the scrubber at git ``revision`` (CPR, phone, names as written)."""
    try:
        source = subprocess.run(
            ["git", "show", f"{revision}:regionlab/privacy/scrub.py"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("previous_scrub")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:scrub.py", "exec"), module.__dict__)
    return module.scrub_series  # type: ignore[no-any-return]


def speed(
    corpus: Corpus, n: int, presidio: Callable[[str], object] | None, previous: str
) -> dict[str, Any]:
    texts, identities = _notes(corpus, n)
    names = corpus.register
    series = pl.Series("text", texts)
    frame = pl.DataFrame({"text": texts}).hstack(_identity_frame(identities))
    out: dict[str, Any] = {
        "notes": n,
        "chars": sum(map(len, texts)),
        "load_before": os.getloadavg()[0],
    }
    old = _previous_scrubber(previous)
    if old is not None:
        out["previous"] = previous
        flat = sorted(set(names.first) | set(names.last))
        out["previous_scrubber"] = _timed(lambda: old(series, flat))
    out["polars_register_rules"] = _timed(lambda: scrub.scrub_series(series, names))
    out["polars_with_person_rules"] = _timed(
        lambda: scrub.scrub_frame(frame, "text", names, people=True)
    )
    out["person_candidates"] = int(
        frame.with_columns(scrub.scrub_expr(pl.col("text"), names).alias("text"))
        .select(candidates(pl.col("text")).sum())
        .item()
    )
    con = duckdb.connect()
    _load(con, texts, identities)
    table = scrub.IdentityTable("ids")
    out["duckdb_sql_register_rules"] = _timed(
        lambda: con.execute(f"SELECT count({scrub.scrub_sql('text', names)}) FROM notes").fetchone()
    )
    out["gate_before_scrub"] = _timed(
        lambda: scrub.find_identifier_shapes(
            con, "notes", ["text"], names, table, person_columns=["text"]
        )
    )
    out["scrub_column_table"] = _timed(
        lambda: scrub.scrub_column(con, "notes", "text", names, identities=table)
    )
    out["gate_after_scrub"] = _timed(
        lambda: scrub.find_identifier_shapes(
            con, "notes", ["text"], names, table, person_columns=["text"]
        )
    )
    sample = min(n, 2_000)
    out["python_reference_sample"] = sample
    out["python_reference"] = (
        _timed(
            lambda: [
                scrub.scrub_text(t, names, i)
                for t, i in zip(texts[:sample], identities, strict=False)
            ]
        )
        * n
        / sample
    )
    if presidio is not None:
        sample = min(n, 500)
        out["presidio_sample"] = sample
        out["presidio"] = _timed(lambda: [presidio(t) for t in texts[:sample]]) * n / sample
    out["load_after"] = os.getloadavg()[0]
    return out


# --- report ----------------------------------------------------------------------


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.1f} %" if den else "–"


def _accuracy_table(name: str, result: dict[str, Any]) -> list[str]:
    planted, caught = result["planted"], result["caught"]
    lines = [
        f"**{name}** — recall per kind of planted identifier:",
        "",
        "| kind | planted | caught | recall |",
        "|---|---:|---:|---:|",
    ]
    for kind in KINDS:
        lines.append(
            f"| {kind} | {planted.get(kind, 0)} | {caught.get(kind, 0)} | "
            f"{_pct(caught.get(kind, 0), planted.get(kind, 0))} |"
        )
    total_p, total_c = sum(planted.values()), sum(caught.values())
    lines.append(f"| **all** | {total_p} | {total_c} | {_pct(total_c, total_p)} |")
    negatives, hits = result["negatives"], result["false_positives"]
    lines += [
        "",
        "False positives on hard negatives (a negative counts when any of its letters or digits "
        "was replaced):",
        "",
        "| hard negative | planted | replaced | false-positive rate |",
        "|---|---:|---:|---:|",
    ]
    for label in sorted(negatives):
        lines.append(
            f"| {label} | {negatives[label]} | {hits.get(label, 0)} | "
            f"{_pct(hits.get(label, 0), negatives[label])} |"
        )
    n_all, h_all = sum(negatives.values()), sum(hits.values())
    lines.append(f"| **all** | {n_all} | {h_all} | {_pct(h_all, n_all)} |")
    lines += [
        "",
        f"Precision: {result['spans_on_plants']} of {result['spans']} replaced spans overlap a "
        f"planted identifier ({_pct(result['spans_on_plants'], result['spans'])}).",
    ]
    if result["missed_variants"]:
        missed = ", ".join(f"{v} ×{n}" for v, n in sorted(result["missed_variants"].items()))
        lines.append(f"Missed variants: {missed}.")
    return lines


def _speed_table(s: dict[str, Any]) -> list[str]:
    base = s.get("previous_scrubber", s["polars_register_rules"])
    sample = f"{s['python_reference_sample']:,}"
    rows = [
        ("register-wide rules, polars (`scrub_series`)", "polars_register_rules"),
        ("+ per-person rules (`scrub_frame`: prefilter, Python `regex`)",
         "polars_with_person_rules"),
        ("pipeline step on a DuckDB table (`scrub_column`: batches, UPDATE)",
         "scrub_column_table"),
        ("register-wide rules as DuckDB SQL (`scrub_sql`)", "duckdb_sql_register_rules"),
        ("identifier gate, unscrubbed notes (`find_identifier_shapes`)", "gate_before_scrub"),
        ("identifier gate, scrubbed notes", "gate_after_scrub"),
        (f"Python reference, per note (extrapolated from {sample})", "python_reference"),
    ]  # fmt: skip
    if "presidio" in s:
        rows.append(
            (
                f"Presidio 2.2.366, blank spaCy `da` (extrapolated from {s['presidio_sample']:,})",
                "presidio",
            )
        )
    if "previous_scrubber" in s:
        rows.insert(
            0,
            (f"previous scrubber (`{s['previous']}`: CPR, phone, names as written) — baseline",
             "previous_scrubber"),
        )  # fmt: skip
    per_m = 1_000_000 / s["notes"]
    lines = [
        f"{s['notes']:,} notes ({s['chars'] / s['notes']:.0f} characters on average), one run, "
        f"load average {s['load_before']:.1f} → {s['load_after']:.1f} (2 shared cores); "
        f"{s['person_candidates']:,} notes ({_pct(s['person_candidates'], s['notes'])}) passed "
        "the per-person prefilter.",
        "",
        "| path | seconds | notes/s | seconds per 1M notes | vs baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in rows:
        seconds = s[key]
        lines.append(
            f"| {label} | {seconds:.2f} | {s['notes'] / seconds:,.0f} | {seconds * per_m:,.0f} | "
            f"{seconds / base:.2f}× |"
        )
    return lines


def render(store: dict[str, Any]) -> str:
    agree = store["agreement"]
    lines = [
        START,
        "",
        f"## Note scrubber: recall, precision and speed ({store['when']})",
        "",
        f"Generated by `{COMMAND}` (add `--with presidio-analyzer==2.2.366 --with "
        "presidio-anonymizer==2.2.366` after `--frozen` and `--presidio` at the end for the "
        "Presidio rows); do not edit by hand. The corpus comes from `bench/scrub_corpus.py` "
        f"(seed {store['seed']}): {store['sentences']} Danish note sentences, "
        f"{store['plants']} planted identifiers of every variant, {store['negatives']} hard "
        "negatives.",
        "",
    ]
    lines += _accuracy_table("regionlab scrubber", store["reference"])
    lines += [
        "",
        f"Production path = reference for {agree['engine_equals_reference']} of "
        f"{agree['sentences']} sentences. The identifier gate flags "
        f"{agree['gate_rows_flagged_before']} of the {agree['sentences_with_plants']} "
        "unscrubbed sentences with a planted identifier, and counts "
        f"{sum(agree['gate_counts_after'].values())} after scrubbing.",
        "",
    ]
    if "presidio" in store:
        lines += _accuracy_table(
            "Presidio 2.2.366 (see `bench/scrub_presidio.py`)", store["presidio"]
        )
        lines.append("")
    lines += ["### Speed", ""] + _speed_table(store["speed"]) + ["", END]
    return "\n".join(lines)


def write_report(store: dict[str, Any]) -> None:
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(
        json.dumps(store, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    text = RESULTS_MD.read_text(encoding="utf-8")
    block = render(store)
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=6, help="times each variant is planted")
    parser.add_argument("--notes", type=int, default=100_000, help="notes for the speed runs")
    parser.add_argument("--presidio", action="store_true", help="also measure Presidio")
    parser.add_argument(
        "--previous", default="41d7471", help="git revision of the scrubber to compare with"
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)

    corpus = generate(seed=args.seed, repeat=args.repeat)
    store: dict[str, Any] = {
        "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "seed": args.seed,
        "sentences": len(corpus.sentences),
        "plants": corpus.plants(),
        "negatives": corpus.negatives(),
    }
    print(f"corpus: {store['sentences']} sentences, {store['plants']} plants", flush=True)
    store["reference"] = score(corpus, reference_detector(corpus))
    store["agreement"] = engine_agreement(corpus)
    presidio = None
    if args.presidio:
        from bench.scrub_presidio import presidio_detector

        detect = presidio_detector(corpus.register)
        store["presidio"] = score(corpus, lambda s: detect(s.text))
        presidio = detect
    print("accuracy done; timing", flush=True)
    store["speed"] = speed(corpus, args.notes, presidio, args.previous)
    if args.no_write:
        print(render(store))
    else:
        write_report(store)
        print(render(store))


if __name__ == "__main__":
    main()
