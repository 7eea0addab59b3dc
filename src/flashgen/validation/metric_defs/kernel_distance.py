"""Kernel physics distance (KPD): unbiased MMD² with a polynomial kernel of degree 4 on batches
of the features, as ``jetnet.evaluation.kpd`` computes it
(:func:`flashgen.validation.metrics.kernel_distance`; Kansal et al., arXiv:2211.10295).

Same input as the FPD (:mod:`.frechet_distance`: each feature centred on the reference's mean
and divided by its largest deviation, which keeps the kernel bounded on the reference; z-scores
with 20σ tails make it erratic) and same floor: the reference-vs-reference comparisons at the
two sample sizes. Batches are drawn with replacement
(jetnet), so the KPD of a perfect generator is positive, about ``(1/n_ref + 1/n_gen)
(E k(x, x) - E k(x, x'))``, whatever the batch size; the validation's batches hold
``plan.kpd_batch_size`` events (1,000; jetnet 5,000: the cost grows with its square, and the
floor repeats it), which changes the spread of the batches, not what they estimate. Reported
beside its floor, not judged: its scale depends on the number of features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import metrics as m
from ..metric_registry import GlobalInput, Metric, Value, distance_summary, register
from .frechet_distance import SCALE

SEED_OFFSET = 7919
"""Added to the comparison's seed: the batches are drawn independently of the Fréchet ones."""


def kernel(g: GlobalInput) -> dict[str, float]:
    """KPD: median over ``plan.kpd_batches`` batches of ``plan.kpd_batch_size`` events of the
    standardised features, and half the 16.275–83.725 % range of the batches."""
    ref, gen = m.standardise(*g.raw, scale=SCALE)
    kpd = m.kernel_distance(ref, gen, batch_size=g.plan.kpd_batch_size,
                            n_batches=g.plan.kpd_batches, seed=g.seed + SEED_OFFSET)
    return {"kpd": kpd.median, "kpd_spread": kpd.spread}


def _details(result: Mapping[str, Any], key: str) -> str:
    spread = result.get("metrics", {}).get(key, {}).get("kpd_spread")
    text = format(spread, ".2g") if isinstance(spread, (int, float)) else "–"
    return (f"± {text} (half the 16–84 % range of its batches); "
            "not judged: its scale depends on the number of features")


KERNEL = register(Metric(
    "kpd", "global", compute=kernel, order=90, failure="kernel distance not computed",
    summary=distance_summary("global/kpd", "kpd", "kpd_spread", "KPD", ".2e"),
    values=(
        Value("kpd", "kernel distance (KPD)", error="kpd_spread", details=_details),
        Value("kpd_spread", "kernel distance, spread of its batches", column=False),
    )))
