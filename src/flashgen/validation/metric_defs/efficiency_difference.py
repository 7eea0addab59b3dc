"""Difference of an efficiency (e.g. the detected fraction) in each slice of a slicing, with
Clopper-Pearson errors (:func:`flashgen.validation.metrics.binomial_fraction`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import metrics as m
from ..metric_registry import Metric, Value, register


def efficiency(ref: np.ndarray, gen: np.ndarray) -> dict[str, float]:
    """Fractions of entries > 0.5 (finite entries only) with Clopper-Pearson errors."""
    p_ref, e_ref = m.binomial_fraction(ref[np.isfinite(ref)] > 0.5)
    p_gen, e_gen = m.binomial_fraction(gen[np.isfinite(gen)] > 0.5)
    diff = abs(p_gen - p_ref)
    err = float(np.hypot(e_ref, e_gen))
    return {"eff_ref": p_ref, "eff_ref_err": e_ref, "eff_gen": p_gen, "eff_gen_err": e_gen,
            "efficiency_diff": diff, "pull": diff / err if err > 0 else float("nan"),
            "n_ref": float(ref.size), "n_gen": float(gen.size)}


def _why(values: Mapping[str, float]) -> str:
    empty = [s for s in ("reference", "generated") if np.isnan(values.get("eff_" + s[:3], np.nan))]
    return (f"efficiency_diff not computed: no {' and no '.join(empty) or 'usable'} event with a "
            "defined value in this slice")


def _fmt(value: Any, fmt: str) -> str:
    return "–" if value is None else format(value, fmt) if isinstance(value, (int, float)) else str(value)


def _details(result: Mapping[str, Any], key: str) -> str:
    v = result.get("metrics", {}).get(key, {})
    return (f"{_fmt(v.get('eff_ref'), '.4f')} ± {_fmt(v.get('eff_ref_err'), '.2g')} vs "
            f"{_fmt(v.get('eff_gen'), '.4f')} ± {_fmt(v.get('eff_gen_err'), '.2g')}, "
            f"pull {_fmt(v.get('pull'), '.2f')}")


EFFICIENCY = register(Metric(
    "efficiency", "efficiency", compute=efficiency, order=50, values=(
        Value("efficiency_diff", "|Δ efficiency|", limit=0.02, why_nan=_why, details=_details,
              description="absolute difference of an efficiency (e.g. detected fraction) in one "
                          "slice"),
        Value("eff_ref", "efficiency, reference", fmt=".4f", error="eff_ref_err", column=False),
        Value("eff_gen", "efficiency, generated", fmt=".4f", error="eff_gen_err", column=False),
        Value("pull", "pull", fmt=".2f", column=False),
    )))
