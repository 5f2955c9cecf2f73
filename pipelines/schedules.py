"""Retention and the workspace sweep as Dagster jobs on daily schedules, and the
independent erasure audit (a full decoding scan, :mod:`regionlab.erasure.audit`) weekly.

The job calls :func:`regionlab.erasure.apply_retention` (the same as
``regionlab retention apply``) and reports counts only. A run that finds no
expired rows commits nothing and keeps the lake's snapshots; one that
deletes rows expires all older snapshots, as an erasure does.

Add to ``pipelines.definitions.build_definitions``::

    from pipelines.schedules import retention_job, retention_schedule
    ... jobs=[..., retention_job], schedules=[retention_schedule] ...
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation.
import dagster as dg

#: 02:30 Danish time, away from the nightly extract deliveries.
CRON = "30 2 * * *"
TIMEZONE = "Europe/Copenhagen"


@dg.op(description="Delete rows past their product's retention period; write a receipt.")
def apply_retention_op(context: dg.OpExecutionContext) -> dg.Output[dict[str, int]]:
    from regionlab.erasure import apply_retention

    receipt = apply_retention()
    counts = {
        "rows_removed": sum(receipt.removed.lake.values()),
        "labelled_rows_removed": sum(receipt.removed.labelled.values()),
        "products_touched": len(receipt.removed.lake),
        "snapshots_expired": len(receipt.snapshots_expired),
        "files_deleted": receipt.files_deleted,
    }
    context.log.info(f"retention {receipt.request_id}: {counts}")
    if not receipt.verification.passed:
        raise dg.Failure(
            description="retention verification failed: expired rows are still readable",
            metadata={"receipt": receipt.request_id},
        )
    return dg.Output(counts, metadata={**counts, "receipt": receipt.request_id})


@dg.job(
    name="retention",
    description="Enforce the retention periods of every product (regionlab retention apply).",
    tags={"regionlab/kind": "retention"},
)
def retention_job() -> None:
    apply_retention_op()


retention_schedule = dg.ScheduleDefinition(
    name="retention_daily",
    job=retention_job,
    cron_schedule=CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily retention run.",
)


@dg.op(description="Delete workspaces whose permit expired or is gone, with their keys.")
def sweep_workspaces_op(context: dg.OpExecutionContext) -> dg.Output[dict[str, int]]:
    from regionlab.research.workspace_sweep import sweep_workspaces

    receipts = sweep_workspaces(by="schedule")
    counts = {
        "workspaces_deleted": len(receipts),
        "files_deleted": sum(len(r.files) for r in receipts),
        "bytes_deleted": sum(f.bytes for r in receipts for f in r.files),
    }
    context.log.info(f"workspace sweep: {counts}")
    return dg.Output(
        counts, metadata={**counts, "receipts": ", ".join(r.receipt_file for r in receipts)}
    )


@dg.job(
    name="workspace_sweep",
    description="Delete expired project workspaces (regionlab workspace sweep).",
    tags={"regionlab/kind": "workspace_sweep"},
)
def workspace_sweep_job() -> None:
    sweep_workspaces_op()


#: 02:45 Danish time, after retention.
workspace_sweep_schedule = dg.ScheduleDefinition(
    name="workspace_sweep_daily",
    job=workspace_sweep_job,
    cron_schedule="45 2 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily deletion of expired workspaces.",
)


@dg.op(description="Decode every data file for every erased person (the independent audit).")
def erasure_audit_op(context: dg.OpExecutionContext) -> dg.Output[dict]:
    from regionlab.erasure.audit import audit_erased

    report = audit_erased()
    counts = {
        "persons_listed": report.persons_listed,
        "data_files_scanned": report.data_files_scanned,
        "catalog_tables_scanned": report.catalog_tables_scanned,
        "rows_found": sum(report.rows_found.values()),
        "seconds": report.seconds,
    }
    context.log.info(f"erasure audit: {counts}")
    if not report.passed:
        raise dg.Failure(
            description="erasure audit failed: rows of erased persons were found",
            metadata={"places": ", ".join(sorted(report.rows_found))},
        )
    return dg.Output(counts, metadata=counts)


@dg.job(
    name="erasure_audit",
    description="Full decoding scan of the lake for every erased person (regionlab erase-audit).",
    tags={"regionlab/kind": "erasure_audit"},
)
def erasure_audit_job() -> None:
    erasure_audit_op()


#: Sundays 03:30 Danish time: a full decode of the lake, after the daily jobs.
erasure_audit_schedule = dg.ScheduleDefinition(
    name="erasure_audit_weekly",
    job=erasure_audit_job,
    cron_schedule="30 3 * * 0",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly independent audit of every erasure (full decoding scan).",
)
