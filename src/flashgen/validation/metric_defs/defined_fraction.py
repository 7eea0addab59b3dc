"""Difference of the fractions of events where a nullable quantity is defined (not NaN)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..metric_registry import Metric, Value, register


def defined_fraction(ref: np.ndarray, gen: np.ndarray) -> dict[str, float]:
    """Fractions of finite values of both samples and their absolute difference."""
    p_ref = float(np.isfinite(ref).mean()) if ref.size else float("nan")
    p_gen = float(np.isfinite(gen).mean()) if gen.size else float("nan")
    return {"finite_ref": p_ref, "finite_gen": p_gen, "finite_diff": abs(p_gen - p_ref)}


def _why(values: Mapping[str, float]) -> str:
    empty = [s for s in ("reference", "generated") if np.isnan(values.get("finite_" + s[:3], np.nan))]
    return f"finite_diff not computed: no {' and no '.join(empty) or 'usable'} event in this slice"


DEFINED_FRACTION = register(Metric(
    "defined_fraction", "defined", compute=defined_fraction, order=40, values=(
        Value("finite_diff", "|Δ defined fraction|", limit=0.02, inherited=True, why_nan=_why,
              description="absolute difference of the fraction of events where the quantity is "
                          "defined (not NaN)"),
        Value("finite_ref", "defined fraction, reference", column=False),
        Value("finite_gen", "defined fraction, generated", column=False),
    )))
