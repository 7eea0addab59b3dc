"""χ²/ndf of the histograms of each 1D quantity (:func:`flashgen.validation.metrics.chi2_histograms`),
with the uncertainty inherited from a training sample and the correlation of oversampled copies."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import metrics as m
from ..binning import MIN_EXPECTED, counts_with_flow, pooled_edges
from ..metric_registry import Metric, QuantityInput, Value, register
from ..thresholds import noise_level


def chi2(q: QuantityInput) -> dict[str, float]:
    """χ², ndf and χ²/ndf of the two histograms (under- and overflow included), neighbouring
    bins pooled until each expects at least :data:`~flashgen.validation.binning.MIN_EXPECTED`
    reference events (:func:`~flashgen.validation.binning.pooled_edges`).

    With an ensemble's ``member`` or an oversampled sample's ``event``, the generated fractions'
    extra variance enters each bin, and the purely statistical value is kept as
    ``chi2_ndf_statistical``.
    """
    from ..compare import inherited_fraction_variance

    edges = np.asarray(q.edges)
    edges = pooled_edges(edges, counts_with_flow(q.ref, edges), counts_with_flow(q.gen, edges))
    c_ref, c_gen = counts_with_flow(q.ref, edges), counts_with_flow(q.gen, edges)
    result = m.chi2_histograms(c_ref, c_gen)
    out: dict[str, float] = {}
    extra = None
    if q.member is not None:  # judged against the reference noise plus the inherited uncertainty
        extra = inherited_fraction_variance(q.gen_all, q.member, edges)
    if q.event is not None:  # copies of one generator-level event are correlated: fold them
        from ...stats.oversampling import extra_fraction_variance

        folded = extra_fraction_variance(q.gen_all, q.event, edges)
        extra = folded if extra is None else extra + folded
    if extra is not None:
        out["chi2_ndf_statistical"] = result.chi2_ndf
        result = m.chi2_histograms(c_ref, c_gen, extra)
    out.update(chi2=result.chi2, ndf=float(result.ndf), chi2_ndf=result.chi2_ndf)
    return out


def chi2_noise(null: np.ndarray, values: Mapping[str, float]) -> tuple[float, float, float]:
    """The bootstrap noise, at least the analytic quantile of χ²/ndf
    (:func:`~flashgen.validation.compare.chi2_ndf_noise`) at this comparison's ndf."""
    from ..compare import chi2_ndf_noise

    mean, std, noise = noise_level(null)
    if values.get("ndf", 0) > 0:
        noise = max(noise, chi2_ndf_noise(int(values["ndf"])))
    return mean, std, noise


def _why(values: Mapping[str, float]) -> str:
    if values.get("ndf") == 0:
        return ("chi2_ndf not computed: the events of both samples fall in a single bin (ndf = 0), "
                f"or too few for two bins of {MIN_EXPECTED:g} expected reference events")
    return "chi2_ndf not computed"


CHI2 = register(Metric(
    "chi2", "quantity", compute=chi2, order=30, values=(
        Value("chi2_ndf", "χ²/ndf", limit=2.0, noise=chi2_noise, why_nan=_why,
              description="histogram χ²/ndf with both samples' statistical errors, bins with "
                          f"fewer than {MIN_EXPECTED:g} expected reference events pooled with their neighbours "
                          "(about 1 for a perfect generator; a significance, grows with sample "
                          "size for a fixed difference)"),
        Value("ndf", "ndf", fmt=".0f"),
        Value("chi2", "χ²", column=False),
        Value("chi2_ndf_statistical", "χ²/ndf, statistical only", column=False),
    )))
