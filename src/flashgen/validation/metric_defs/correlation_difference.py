"""Difference of the feature correlation matrices
(:func:`flashgen.validation.metrics.correlation_difference`)."""

from __future__ import annotations

from .. import metrics as m
from ..metric_registry import GlobalInput, Metric, Value, register


def correlation(g: GlobalInput) -> dict[str, float]:
    """Frobenius norm and largest absolute entry of the difference of the correlation matrices."""
    corr = m.correlation_difference(*g.raw)
    return {"corr_frobenius": corr.frobenius, "corr_max_abs": corr.max_abs}


CORRELATION = register(Metric(
    "correlation", "global", compute=correlation, order=60, min_features=2,
    failure="correlation matrices not computed", values=(
        Value("corr_frobenius", "correlation difference, Frobenius", fmt=".4g", limit=0.25,
              description="Frobenius norm of the difference of the feature correlation matrices"),
        Value("corr_max_abs", "correlation difference, max |entry|", fmt=".4g", limit=0.05,
              description="largest absolute difference between two entries of the correlation "
                          "matrices"),
    )))
