"""Fréchet distance of the features as normal scores, extrapolated to infinite samples
(:func:`flashgen.validation.metrics.frechet_distance_extrapolated`; Kansal et al.,
arXiv:2211.10295)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import metrics as m
from ..metric_registry import GlobalInput, Metric, Value, distance_summary, register


def frechet(g: GlobalInput) -> dict[str, float]:
    """FPD (N → ∞) with its fit error, from ``plan.fpd_batches`` batches per sample size."""
    fpd = m.frechet_distance_extrapolated(*g.scores, n_batches=g.plan.fpd_batches, seed=g.seed)
    return {"fpd": fpd.value, "fpd_err": fpd.error}


def _details(result: Mapping[str, Any], key: str) -> str:
    err = result["metrics"].get(key, {}).get("fpd_err")
    return f"± {format(err, '.2g') if isinstance(err, (int, float)) else '–'} (fit)"


FRECHET = register(Metric(
    "frechet", "global", compute=frechet, order=80, failure="Fréchet distance not computed",
    summary=distance_summary("global/frechet", "fpd", "fpd_err", "FPD", ".4f",
                             "truth-vs-truth floor"),
    values=(
        Value("fpd", "Fréchet distance (N→∞)", fmt=".4g", limit=0.01, error="fpd_err",
              details=_details,
              description="Fréchet distance of the features mapped to normal scores by the "
                          "reference's CDF, extrapolated to infinite samples (a mean shift of 0.1 "
                          "std in one feature gives 0.01)"),
        Value("fpd_err", "Fréchet distance, fit error", column=False),
    )))
