"""Benchmarks with their baselines: every pipeline stage timed against the practical limit.

Not part of ``make test``: ``make bench`` (``python -m bench.run``) runs them and
writes ``bench/RESULTS.md``. Each stage runs in its own child process so its
peak memory is its own (``os.wait4`` rusage), not the sum of everything before.
"""
