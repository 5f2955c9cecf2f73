"""The airlock: result tables leave a workspace only through these checks.

``read`` sniffs any delimiter and encoding, ``columns`` says what each column
is (count, measure, dimension, identifier-shaped), ``rules`` applies the
statistical-barn rules (frequency, magnitude, survival, regression, row-level
data), ``differencing`` compares a table with the project's earlier released
outputs, and ``submissions`` is the workflow the access service runs: submit,
auto-release when safe by class, otherwise queue for an output checker.
"""
