"""`regionlab demo`: a small synthetic region end to end, on embedded defaults."""

from __future__ import annotations

import datetime as dt

import typer

from cli.console import make_console, styled

console = make_console()


def demo(
    persons: int = typer.Option(5000, help="Persons in the synthetic region."),
    seed: int = typer.Option(42, help="Seed of the synthetic region."),
    defect_rate: float = typer.Option(0.01, help="Share of defective source rows."),
) -> None:
    """Generate sources, validate specs, run every pipeline and emit the catalogue."""
    from cli.run_cmd import FAILED, emit_and_report, execute, summary_table
    from regionlab import lake
    from regionlab.config import current
    from regionlab.privacy.keys import default_key_path, init_key, load_key
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.synth.generate import generate

    settings = get_settings()
    console.rule("regionlab demo")
    registry = load_domains()
    console.print(
        f"specs: {len(registry.domains)} domains, {len(registry.products)} products valid"
    )
    if not default_key_path().exists():
        init_key()
    key = load_key()
    console.print(f"pseudonymisation key: id {key.key_id}")
    manifest = generate(
        out=settings.sources_dir,
        persons=persons,
        seed=seed,
        defect_rate=defect_rate,
        as_of=dt.date(2026, 11, 1),
        deliveries=3,
    )
    console.print(f"sources: {settings.sources_dir} ({len(manifest.files)} extract files)")
    lake.init_lake()
    console.print(f"lake: {current().lake.describe()}")
    runs = execute([p.ref for p in registry.topological()], full_refresh=True)
    console.print(summary_table(runs))
    failed = [r for r in runs if r.status in FAILED]
    from cli.quality_cmd import quality

    quality(None)
    console.print(
        f"Failing warning rules are the ~{defect_rate:.0%} source defects injected on purpose "
        "(listed in var/sources/defects.csv); `regionlab catalog show <domain>/<product>` "
        "names each rule and its counts."
    )
    emit_and_report()
    _catalogue_products()
    if failed:
        console.print(styled("[red]{} product(s) not published[/]", len(failed)))
        raise typer.Exit(1)


def _catalogue_products() -> None:
    """The catalogue site and the HealthDCAT-AP and ODCS exports, built from the metadata."""
    from catalog.dcat import export_dcat
    from catalog.odcs import export_odcs
    from catalog.site.build import build_site

    site = build_site()
    console.print(f"catalogue site: {site / 'index.html'} (`make catalog` serves it)")
    path, datasets = export_dcat()
    console.print(f"HealthDCAT-AP: {datasets} datasets → {path}")
    contracts = export_odcs()
    console.print(f"ODCS: {len(contracts)} data contracts → {contracts[0].parent.parent}")
