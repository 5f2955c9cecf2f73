"""Privacy primitives, one small module per job:

- ``cpr``: CPR parsing and validation (Python and DuckDB macros)
- ``keys``: the pseudonymisation key, its key id, per-purpose derivation
- ``pseudonym``: person keys (HMAC-SHA256) computed in DuckDB per distinct CPR
- ``generalise``: birth year, age band, month, municipality (SQL and Python)
- ``scrub``: removing CPR numbers, phone numbers and register names from text
- ``kanon``: k-anonymity over quasi-identifiers

Every bulk operation runs vectorised in DuckDB or polars; the Python functions
of the same meaning are the reference the tests compare against. Nothing here
puts a CPR number, name, phone number or key into a message. The package
itself imports nothing, so ``regionlab keys`` stays fast: import the modules.
"""
