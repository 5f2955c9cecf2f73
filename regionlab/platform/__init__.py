"""The platform's shared contracts, each declared once.

- :mod:`.tables`: the platform's own lake tables (``_regionlab.load_log``,
  ``quality_history``, ``suppression_list``): name, DDL, ensure, exists;
- :mod:`.names`: labelled-product naming and the privacy gates' check names.

Paths under ``var/`` (zones and their file names) are :class:`regionlab.settings.Settings`;
SQL quoting is :mod:`regionlab.sql`.
"""
