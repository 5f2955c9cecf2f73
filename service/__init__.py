"""The access service: the one process that touches the lake, the key and the audit store.

Researchers, stewards and the catalogue site reach data through HTTP with a bearer
token; every endpoint declares the roles it admits (:func:`service.auth.allow`), so
a privacy rule is enforced where the client cannot switch it off. The core
(:mod:`regionlab`) keeps the logic; this package only exposes it behind identities.
"""
