"""The streaming products' bookkeeping tables in the lake (schema ``_regionlab``).

Written in the same transaction as each micro-batch's rows, so the lake knows
exactly which messages it has consumed: a message redelivered after a crash
between commit and acknowledgement is found here and skipped. Message ids and
counts only — never a value from a message.
"""

from __future__ import annotations

from regionlab.platform.tables import PlatformTable

#: The quality-history check of a micro-batch's freshness (event time → commit).
FRESHNESS_CHECK = "stream_freshness"

#: One row per consumed message: published, or quarantined with its reason.
STREAM_LOG = PlatformTable(
    "stream_log",
    (
        ("product", "VARCHAR"),
        ("message_id", "VARCHAR"),
        ("outcome", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("batch_id", "VARCHAR"),
        ("logged_at", "TIMESTAMP WITH TIME ZONE"),
    ),
)

#: One row per micro-batch: counts and the freshness lag (event time → commit), in ms.
STREAM_BATCHES = PlatformTable(
    "stream_batches",
    (
        ("product", "VARCHAR"),
        ("batch_id", "VARCHAR"),
        ("received", "BIGINT"),
        ("published", "BIGINT"),
        ("quarantined", "BIGINT"),
        ("skipped", "BIGINT"),
        ("first_event_at", "TIMESTAMP"),
        ("last_event_at", "TIMESTAMP"),
        ("lag_p50_ms", "BIGINT"),
        ("lag_p95_ms", "BIGINT"),
        ("lag_max_ms", "BIGINT"),
        ("committed_at", "TIMESTAMP WITH TIME ZONE"),
    ),
)
