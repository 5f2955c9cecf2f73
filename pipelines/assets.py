"""One Dagster asset per data product, built from the specs: adding a YAML file adds an asset."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from pipelines import progress
from pipelines.quality_hook import check_names, quality_hook
from pipelines.resources import RegionlabResource
from regionlab.results import CheckResult
from regionlab.spec import Product, Registry
from regionlab.wap.engine import ProductRun, run_derived_product, run_source_product


class ProductRunConfig(dg.Config):
    full_refresh: bool = Field(False, description="Reload every extract and replace the table.")
    reload: str = Field(
        "",
        description="A loaded delivery (its name under the sources folder) whose published "
        "rows are replaced by its current content in one snapshot.",
    )


def asset_key(ref: str) -> dg.AssetKey:
    return dg.AssetKey(ref.split("/"))


def op_config(
    refs: list[str], full_refresh: bool = False, reload: dict[str, str] | None = None
) -> dict[str, Any]:
    """The run config's ``ops`` block: :class:`ProductRunConfig` per product that needs one."""
    out: dict[str, Any] = {}
    for ref in refs:
        config: dict[str, Any] = {"full_refresh": True} if full_refresh else {}
        if reload and ref in reload:
            config["reload"] = reload[ref]
        if config:
            out["__".join(ref.split("/"))] = {"config": config}
    return out


def column_schema(product: Product) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.type.value,
                description=c.description,
                tags={"classification": c.classification.value}
                | ({"code_system": c.code_system.value} if c.code_system else {}),
            )
            for c in product.published_columns
        ]
    )


def _check_specs(product: Product) -> list[dg.AssetCheckSpec]:
    """One check per privacy gate and rule; a cross-product rule names the product it reads.

    ``additional_deps`` only documents the read: on checks of a multi-asset Dagster adds no
    dependency for them (dagster#20158). The run order comes from :func:`_priority`.
    """
    key = asset_key(product.ref)
    reads = {
        rule.id: reference[0]
        for rule in product.quality
        if (reference := rule.reference()) and reference[0] != product.ref
    }
    return [
        dg.AssetCheckSpec(
            name=name,
            asset=key,
            description=description,
            blocking=blocking,
            additional_deps=[asset_key(reads[name])] if name in reads else None,
        )
        for name, description, blocking in check_names(product)
    ]


def _check_result(product: Product, result: CheckResult) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {
        "category": result.category,
        "status": result.status.value,
        "severity": result.severity,
    }
    if result.unexpected_count is not None:
        metadata["unexpected_count"] = result.unexpected_count
    if result.element_count is not None:
        metadata["element_count"] = result.element_count
    if result.detail:
        metadata["detail"] = result.detail
    return dg.AssetCheckResult(
        asset_key=asset_key(product.ref),
        check_name=result.check,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if result.severity == "blocking"
        else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=result.description or None,
    )


def _metadata(run: ProductRun) -> dict[str, Any]:
    return {
        "rows_read": run.rows_read,
        "rows_published": run.rows_published,
        "rows_quarantined": run.quarantined.total(),
        "quarantined_by_reason": dg.MetadataValue.json(dict(run.quarantined)),
        "snapshot_id": run.snapshot_id,
        "key_id": run.key_id or "",
        "extracts": dg.MetadataValue.json(run.extracts),
        "run_id": run.run_id,
    }


def _product_spec(product: Product) -> dg.AssetSpec:
    kinds = {"duckdb", "ducklake"} | ({product.source.format.value} if product.source else {"sql"})
    return dg.AssetSpec(
        key=asset_key(product.ref),
        group_name=product.domain,
        description=f"{product.title}\n\n{product.description}",
        owners=[o.email for o in product.owners],
        kinds=kinds,
        deps=[asset_key(up) for up in product.upstream],
        tags={"domain": product.domain, "access_level": product.access_level.value},
        metadata={
            "dagster/column_schema": column_schema(product),
            "purpose": product.purpose,
            "row_key": ", ".join(product.row_key),
        },
        skippable=True,
    )


def _priority(order: list[Product], product: Product) -> dict[str, str]:
    """Op tags that make Dagster start products in the registry's run order.

    ``Registry.topological`` puts every product a quality rule reads (the population a
    foreign key points to) before the product whose rule reads it, so a first run judges
    those rules instead of ending them ``errored``. An asset dependency would order them
    too, but Dagster skips a step whose upstream yields nothing in the run: a delivery of
    notes would then not be loaded whenever the population had no new extract. A priority
    orders without that: the in-process executor starts the highest first, one at a time;
    parallel executors start them in that order (a check that still finds its product
    missing says so in words).
    """
    return {"dagster/priority": str(len(order) - order.index(product))}


def _product_asset(product: Product, order: list[Product]) -> dg.AssetsDefinition:
    """The product's asset. A run with no new extracts materializes nothing and reports no
    checks; a one-spec ``multi_asset`` with ``can_subset`` makes both optional (a plain
    ``@asset(output_required=False)`` still demands every check result: dagster#27399)."""

    @dg.multi_asset(
        name="__".join(product.ref.split("/")),
        specs=[_product_spec(product)],
        check_specs=_check_specs(product),
        can_subset=True,
        op_tags=_priority(order, product),
    )
    def _asset(
        context: dg.AssetExecutionContext, config: ProductRunConfig, regionlab: RegionlabResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        settings = regionlab.settings()
        run_id = context.run.run_id
        progress.emit("started", product.ref)
        if product.is_derived:
            run = run_derived_product(product, settings, quality_hook=quality_hook, run_id=run_id)
        else:
            run = run_source_product(
                product,
                settings,
                full_refresh=config.full_refresh,
                quality_hook=quality_hook,
                run_id=run_id,
                reload=config.reload or None,
            )
        context.log.info(run.summary())
        progress.emit("finished", product.ref, run)
        if run.status == "delivery_rejected":
            raise dg.Failure(
                description=f"{product.ref}: {run.explain()}",
                metadata={"rejected": dg.MetadataValue.json([v.delivery for v in run.rejected])},
            )
        if run.rejected:
            context.log.warning(f"{product.ref}: {run.explain()}")
        if run.status == "up_to_date":
            context.log.info(f"{product.ref}: no new extracts; nothing to publish")
            return
        for result in run.checks:
            yield _check_result(product, result)
        if run.status == "audit_failed":
            failed = ", ".join(c.check for c in run.blocking_failures)
            reason = run.failure_reason()
            context.log.error(f"{product.ref}: {reason}")
            raise dg.Failure(
                description=f"{product.ref}: {reason}",
                metadata={"failed_checks": failed, **_metadata(run)},
            )
        yield dg.MaterializeResult(asset_key=asset_key(product.ref), metadata=_metadata(run))

    return _asset


def build_assets(registry: Registry) -> list[dg.AssetsDefinition]:
    order = registry.batch_order()
    return [_product_asset(p, order) for p in order]
