"""Deletion and retention: erase persons everywhere, enforce retention, prove it.

``erase(request)`` and ``apply_retention(as_of)`` both return a
:class:`~regionlab.erasure.receipt.Receipt` (also written under
``<var>/erasure/receipts/`` and appended to ``<var>/erasure/register.jsonl``).
Ingest honours the suppression list through ``regionlab.wap.erasure_hook``.
"""

from regionlab.erasure.erase import erase
from regionlab.erasure.receipt import Receipt, read_receipt
from regionlab.erasure.requests import (
    ErasureRequest,
    contains_cpr,
    make_request,
    read_cpr_file,
    read_cpr_stream,
)
from regionlab.erasure.retention import apply_retention

__all__ = [
    "ErasureRequest",
    "Receipt",
    "apply_retention",
    "contains_cpr",
    "erase",
    "make_request",
    "read_cpr_file",
    "read_cpr_stream",
    "read_receipt",
]
