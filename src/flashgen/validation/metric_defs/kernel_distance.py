"""Kernel physics distance: unbiased MMD² with a polynomial kernel on batches of the normal
scores (:func:`flashgen.validation.metrics.kernel_distance`; Kansal et al., arXiv:2211.10295).

Reported beside its reference-vs-reference floor, not judged: its scale depends on the number
of features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import metrics as m
from ..metric_registry import GlobalInput, Metric, Value, distance_summary, register

SEED_OFFSET = 7919
"""Added to the comparison's seed: the batches are drawn independently of the Fréchet ones."""


def kernel(g: GlobalInput) -> dict[str, float]:
    """KPD: median over ``plan.kpd_batches`` batches of ``plan.kpd_batch_size`` events, and half
    the 16–84 % range of the batches."""
    kpd = m.kernel_distance(*g.scores, batch_size=g.plan.kpd_batch_size,
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
