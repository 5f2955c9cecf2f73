"""Cross-file checks: what a single file's schema cannot see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import sqlglot
from sqlglot import exp

from regionlab.spec.labeling import labeling_checks
from regionlab.spec.models import Product, Registry
from regionlab.spec.problems import SpecProblem
from regionlab.spec.sqlcheck import check_derived_sql
from regionlab.spec.stream_checks import stream_checks
from regionlab.spec.vocab import (
    AccessLevel,
    Classification,
    ColumnType,
    OwnerRole,
    Pseudonymisation,
)

_DATE_TYPES = {ColumnType.date, ColumnType.timestamp}
_DATE_RULES = {Pseudonymisation.birth_year, Pseudonymisation.age_band, Pseudonymisation.month}
_IDENTIFIER_RULES = {Pseudonymisation.drop, Pseudonymisation.person_key}


def cross_checks(registry: Registry, files: dict[str, Path], root: Path) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    for ref, product in sorted(registry.products.items()):
        file = files[ref]
        problems += [SpecProblem(file, f, m, h) for f, m, h in _product_checks(product, registry)]
    problems += _cycles(registry, files)
    problems += _bind_derived(registry, files, problems)
    return [_knock_on(p, root) for p in problems]


def _knock_on(problem: SpecProblem, root: Path) -> SpecProblem:
    """An upstream whose own file failed to load is invalid, not unknown: say so."""
    prefix = "unknown product "
    if problem.message.startswith(prefix):
        ref = problem.message.removeprefix(prefix)
        if (root / f"{ref}.yaml").exists():
            return SpecProblem(
                problem.file,
                problem.field,
                f"{ref} is not valid",
                f"fix the problems reported for {ref}.yaml first",
            )
    return problem


def _bind_derived(
    registry: Registry, files: dict[str, Path], found: list[SpecProblem]
) -> list[SpecProblem]:
    """Bind each derived SQL against its upstreams, once the simpler checks are clean.

    A product with problems of its own under `derived`, or an upstream with any
    problem, would only produce follow-on errors here, so it is skipped until
    those are fixed.
    """
    troubled = {p.file for p in found}
    derived_troubled = {p.file for p in found if p.field.startswith("derived")}
    problems: list[SpecProblem] = []
    for ref, product in sorted(registry.products.items()):
        if not product.derived or files[ref] in derived_troubled:
            continue
        ups = [registry.products.get(up) for up in product.upstream]
        if any(up is None or files[up.ref] in troubled for up in ups):
            continue
        problems += [
            SpecProblem(files[ref], f, m, h)
            for f, m, h in check_derived_sql(product, [u for u in ups if u is not None])
        ]
    return problems


Finding = tuple[str, str, str]


def _product_checks(product: Product, registry: Registry) -> Iterator[Finding]:
    yield from _owner_checks(product)
    yield from _column_checks(product)
    yield from _rule_checks(product, registry)
    yield from _reference_checks(product, registry)
    yield from labeling_checks(product)
    if product.derived:
        yield from _derived_checks(product, registry)
        yield from _aggregate_checks(product, registry)
    if product.stream:
        yield from stream_checks(product)


def _owner_checks(product: Product) -> Iterator[Finding]:
    if OwnerRole.data_steward not in product.owners_by_role:
        yield "owners", "no data_steward", "add an owner with role: data_steward"


def _column_checks(product: Product) -> Iterator[Finding]:
    seen: set[str] = set()
    for col in product.columns:
        where = f"columns[{col.name}]"
        if col.classification is Classification.direct_identifier and (
            col.pseudonymisation not in _IDENTIFIER_RULES
        ):
            yield (
                f"{where}.pseudonymisation",
                "a direct identifier must not be published as is",
                "use person_key for the CPR number or drop for names, addresses and phones",
            )
        if col.pseudonymisation in _DATE_RULES and col.type not in _DATE_TYPES:
            yield (
                f"{where}.pseudonymisation",
                f"{col.pseudonymisation} needs a date column",
                "use it on a date or timestamp column",
            )
        if (
            col.pseudonymisation is Pseudonymisation.scrub_text
            and col.type is not ColumnType.varchar
        ):
            yield f"{where}.pseudonymisation", "scrub_text needs a varchar column", ""
        if product.derived and col.pseudonymisation is not Pseudonymisation.keep:
            yield (
                f"{where}.pseudonymisation",
                "derived products read pseudonymised data",
                "remove the rule; pseudonymise in the source product",
            )
    for pub in product.published_columns:
        if pub.name in seen:
            yield "columns", f"two columns are published as '{pub.name}'", "rename one with output:"
        seen.add(pub.name)
    published = {c.name for c in product.published_columns}
    for i, key in enumerate(product.row_key):
        if key not in published:
            yield f"row_key[{i}]", f"no published column '{key}'", _did_you_mean(key, published)
    yield from _privacy_checks(product, published)
    ret = product.published(product.retention.from_column)
    if ret is None:
        yield (
            "retention.from_column",
            f"no published column '{product.retention.from_column}'",
            _did_you_mean(product.retention.from_column, published),
        )
    elif ret.type not in _DATE_TYPES:
        yield "retention.from_column", f"'{ret.name}' is not a date", "name a date column"
    if product.source and product.source.person_column:
        person = next((c for c in product.columns if c.name == product.source.person_column), None)
        if person is None:
            yield (
                "source.person_column",
                f"no column '{product.source.person_column}'",
                "name the column that holds the CPR number",
            )
        elif person.pseudonymisation is not Pseudonymisation.person_key:
            yield (
                f"columns[{person.name}].pseudonymisation",
                "the CPR column must become the person key",
                "set pseudonymisation: person_key",
            )


def _privacy_checks(product: Product, published: set[str]) -> Iterator[Finding]:
    """The audit checks k over every quasi-identifier; a product that cannot be k-anonymous
    says so, and is then only available under a permit."""
    declared = product.quasi_identifiers
    for i, qi in enumerate(product.privacy.quasi_identifiers):
        if qi not in published:
            yield (
                f"privacy.quasi_identifiers[{i}]",
                f"no published column '{qi}'",
                _did_you_mean(qi, published),
            )
        elif qi not in declared:
            yield (
                f"privacy.quasi_identifiers[{i}]",
                f"'{qi}' is not classified quasi_identifier",
                f"set classification: quasi_identifier on the column published as '{qi}'",
            )
    listed = product.privacy.quasi_identifiers
    missing = [q for q in declared if q not in listed]
    if listed and missing:
        yield (
            "privacy.quasi_identifiers",
            f"misses {', '.join(missing)}, classified quasi_identifier; the audit checks k over "
            "every quasi-identifier",
            f"list all of {', '.join(declared)}, or leave quasi_identifiers out",
        )
    if product.k_anonymous:
        return
    if product.access_level is not AccessLevel.non_public:
        yield (
            "access_level",
            "a product that is not k-anonymous is only available under a permit",
            "set access_level: non_public",
        )
    if not (product.privacy.justification or "").strip():
        yield (
            "privacy.justification",
            "say why the product cannot be k-anonymous",
            "e.g. one row per person with age band, sex and municipality; only under a permit",
        )


def _aggregate_checks(product: Product, registry: Registry) -> Iterator[Finding]:
    """Counts over a product that is not k-anonymous hold its small cells: permit only too."""
    if product.access_level is AccessLevel.non_public:
        return
    row_level = [
        up
        for up in product.upstream
        if up in registry.products and not registry.products[up].k_anonymous
    ]
    if row_level:
        yield (
            "access_level",
            f"reads {', '.join(row_level)}, which is not k-anonymous; its counts are not "
            "suppressed in the lake",
            "set access_level: non_public (counts shown elsewhere go through small-cell "
            "suppression)",
        )


def _rule_checks(product: Product, registry: Registry) -> Iterator[Finding]:
    published = {c.name for c in product.published_columns}
    ids: set[str] = set()
    for rule in product.quality:
        where = f"quality[{rule.id}]"
        if rule.id in ids:
            yield f"{where}.id", "duplicate rule id", "give every rule its own id"
        ids.add(rule.id)
        for col in rule.columns_used():
            if col not in published:
                yield (
                    where,
                    f"uses column '{col}', which is not published",
                    _did_you_mean(col, published),
                )
        for field, message, hint in rule.spec_problems(product):
            yield f"{where}.{field}", message, hint
        reference = rule.reference()
        if reference is not None:
            target_ref, target_col = reference
            target = registry.products.get(target_ref)
            if target is None:
                yield (
                    where,
                    f"references unknown product {target_ref}",
                    _did_you_mean(target_ref, set(registry.products)),
                )
            elif target.published(target_col or "") is None:
                yield (
                    where,
                    f"{target_ref} has no published column '{target_col}'",
                    _did_you_mean(target_col or "", {c.name for c in target.published_columns}),
                )


def _reference_checks(product: Product, registry: Registry) -> Iterator[Finding]:
    terms = registry.glossary.term_ids()
    wanted = [("glossary_terms", t) for t in product.glossary_terms] + [
        (f"columns[{c.name}].glossary_terms", t) for c in product.columns for t in c.glossary_terms
    ]
    for where, term in wanted:
        if term not in terms:
            yield where, f"unknown glossary term '{term}'", "add it to domains/glossary.yaml"
    for i, up in enumerate(product.upstream):
        if up not in registry.products:
            yield (
                f"derived.upstream[{i}]",
                f"unknown product {up}",
                _did_you_mean(up, set(registry.products)),
            )


def _derived_checks(product: Product, registry: Registry) -> Iterator[Finding]:
    assert product.derived is not None
    try:
        tree = sqlglot.parse_one(product.derived.sql, dialect="duckdb")
    except sqlglot.errors.ParseError as exc:
        yield "derived.sql", f"SQL does not parse: {str(exc).splitlines()[0]}", ""
        return
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    used = {f"{t.db}/{t.name}" for t in tree.find_all(exp.Table) if t.name not in ctes or t.db}
    for ref in sorted(used - set(product.upstream)):
        yield (
            "derived.sql",
            f"reads {ref.replace('/', '.')}, which is not an upstream",
            "list it under derived.upstream or write tables as domain.product",
        )
    for ref in sorted(set(product.upstream) - used):
        yield "derived.upstream", f"{ref} is listed but the SQL never reads it", "remove it"


def _cycles(registry: Registry, files: dict[str, Path]) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    state: dict[str, int] = {}

    def visit(ref: str, trail: list[str]) -> None:
        state[ref] = 1
        for up in registry.products[ref].upstream:
            if up not in registry.products:
                continue
            if state.get(up) == 1:
                cycle = " -> ".join([*trail[trail.index(up) :], up]) if up in trail else up
                problems.append(
                    SpecProblem(
                        files[ref],
                        "derived.upstream",
                        f"dependency cycle: {cycle}",
                        "break the cycle",
                    )
                )
            elif up not in state:
                visit(up, [*trail, up])
        state[ref] = 2

    for ref in sorted(registry.products):
        if ref not in state:
            visit(ref, [ref])
    return problems


def _did_you_mean(name: str, options: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"did you mean '{close[0]}'?" if close else ""
