"""Kolmogorov-Smirnov statistic of each 1D quantity (:func:`flashgen.validation.metrics.ks_test`)."""

from __future__ import annotations

from ..metric_registry import Metric, QuantityInput, Value, register


def ks(q: QuantityInput) -> dict[str, float]:
    """KS statistic and its asymptotic p-value of the finite values."""
    result, _ = q.ks_w1
    return {"ks_stat": result.statistic, "ks_pvalue": result.pvalue}


KS = register(Metric(
    "ks", "quantity", compute=ks, order=10, values=(
        Value("ks_stat", "KS statistic", limit=0.025, inherited=True,
              description="largest distance between the two empirical CDFs "
                          "(Kolmogorov-Smirnov statistic)"),
        Value("ks_pvalue", "KS p-value", fmt=".2g"),
    )))
