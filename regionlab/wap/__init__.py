"""Write–audit–publish: one product run from its sources (or upstream SQL) to a lake snapshot.

Dagster-free, so the CLI, the Dagster assets, the tests and the benchmark run
the same code. :func:`run_source_product` and :func:`run_derived_product`
are the entry points (:mod:`.engine`); sources plug in through
:mod:`.sources` (one reader per ``source.format``; :mod:`.formats` holds the
file formats); :mod:`.pseudonymise`, :mod:`.privacy_gates`,
:mod:`.quarantine_zone`, :mod:`.load_log` and :mod:`.erasure_hook` are the
engine's steps; :mod:`regionlab.steps` lets an observer time them.
"""
