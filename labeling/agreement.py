"""Agreement between annotators: the pure measures live in :mod:`regionlab.agreement`.

They moved to the core so a model's validation report can state the agreement of
the very documents it used as ground truth (the core may not import ``labeling``);
this module keeps the labelling module's imports working.
"""

from regionlab.agreement import (
    Kappa,
    SpanF1,
    SpanT,
    cohen_kappa,
    consensus_choice,
    consensus_spans,
    kappas,
    span_f1s,
    span_scores,
)

__all__ = [
    "Kappa",
    "SpanF1",
    "SpanT",
    "cohen_kappa",
    "consensus_choice",
    "consensus_spans",
    "kappas",
    "span_f1s",
    "span_scores",
]
