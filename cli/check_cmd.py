"""`regionlab check`: validate every spec under ``domains/``."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.console import make_console, styled

console = make_console()


def check(
    domains: Path = typer.Option(None, "--domains", help="Folder of domains (default: domains/)."),
    write_schema: bool = typer.Option(
        False, "--write-schema", help="Regenerate the JSON Schemas in the domains folder."
    ),
) -> None:
    """Validate domains, products, glossary and model cards; print each problem and its field."""
    from regionlab.aimodels import card as cards
    from regionlab.settings import get_settings
    from regionlab.spec import jsonschema
    from regionlab.spec.loader import collect
    from regionlab.spec.problems import SpecProblem

    root = domains or get_settings().domains_dir
    cards_root = root.parent / "models"  # model cards live beside domains/
    if write_schema:
        for path in [*jsonschema.write(root), *cards.write_schema(cards_root)]:
            console.print(f"wrote {path}")
    registry, problems = collect(root)
    found, card_problems = cards.collect_cards(cards_root, registry)
    problems += card_problems
    problems += [
        SpecProblem(path, "(file)", "JSON Schema is stale", "run `regionlab check --write-schema`")
        for path in [*jsonschema.stale(root), *cards.schema_stale(cards_root)]
    ]
    base = root.resolve().parent
    for problem in problems:
        console.print(problem.render(base), markup=False, highlight=False, soft_wrap=True)
    if problems:
        console.print(styled("[red]{} problem(s)[/] in {}", len(problems), root))
        raise typer.Exit(1)
    console.print(
        styled(
            "[green]ok[/]: {} domains, {} products, {} glossary terms, {} model cards",
            len(registry.domains),
            len(registry.products),
            len(registry.glossary.term_ids()),
            len(found),
        )
    )
