"""Streaming products: FHIR events from the broker, published in audited micro-batches.

* :mod:`~regionlab.streaming.broker` — the RabbitMQ connection (one place for its URL).
* :mod:`~regionlab.streaming.fhir_rows` — validate a resource, read the spec's columns.
* :mod:`~regionlab.streaming.microbatch` — write–audit–publish of one micro-batch.
* :mod:`~regionlab.streaming.consumer` — the loop: consume, batch, publish, ack, flush.
"""
