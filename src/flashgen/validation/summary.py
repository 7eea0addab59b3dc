"""Headline numbers read back from a validation result (the content of ``metrics.json``).

- :func:`worst_feature`: the generated feature with the largest KS statistic, with its W1/σ and
  the status of its KS check; shown by ``flashgen run`` and the fidelity benchmarks.
- :func:`distances`: the whole-event distances of the metric registry (Fréchet, kernel) with
  their truth-vs-truth floors, and :func:`headline`: the one-line statement of the classifier
  AUC and those distances (each metric writes its own part: ``Metric.summary``).
"""

from __future__ import annotations

from typing import Any

from .metric_registry import by_scope

__all__ = ["distances", "headline", "worst_feature"]


def worst_feature(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The generated feature with the largest KS statistic in a ``metrics.json`` content.

    Returns:
        ``{"name", "ks_stat", "w1_norm", "status"}`` or ``None`` when no feature was compared.
    """
    features = [(key.split("/", 1)[1], values) for key, values in metrics.get("metrics", {}).items()
                if key.startswith("feature/") and values.get("ks_stat") is not None]
    if not features:
        return None
    name, values = max(features, key=lambda item: item[1]["ks_stat"])
    status = next((c["status"] for c in metrics.get("checks", [])
                   if c["key"] == f"feature/{name}" and c["metric"] == "ks_stat"), None)
    return {"name": name, "ks_stat": values["ks_stat"], "w1_norm": values.get("w1_norm"),
            "status": status}


def _floor(metrics: dict[str, Any], key: str, metric: str) -> tuple[float | None, float | None]:
    res = metrics.get("resolution", {}).get(key, {}).get(metric, {})
    return res.get("mean"), res.get("std")


def distances(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Every whole-event distance of the registry that is in the summary (today the FPD: N → ∞
    extrapolation, with its fit error, and the KPD: median, half the 16–84 % range of its
    batches), each with its error and its truth-vs-truth floor: mean and standard deviation of
    the same metric over the reference-vs-reference comparisons at the same sample sizes.

    Returns:
        ``{name, <error>, name_floor, name_floor_std}`` for each distance, e.g. ``fpd``,
        ``fpd_err``, ``fpd_floor``, ``fpd_floor_std``.
    """
    values = metrics.get("metrics", {})
    out: dict[str, float | None] = {}
    for metric in by_scope("global"):
        if metric.summary is None:
            continue
        v = metric.values[0]
        found = values.get(metric.result_key, {})
        floor, floor_std = _floor(metrics, metric.result_key, v.name)
        out[v.name] = found.get(v.name)
        if v.error is not None:
            out[v.error] = found.get(v.error)
        out.update({f"{v.name}_floor": floor, f"{v.name}_floor_std": floor_std})
    return out


def headline(metrics: dict[str, Any]) -> str:
    """``classifier AUC 0.561 ± 0.013 (5 trainings: spread 0.004); FPD ... (floor ...); KPD ...
    (floor ...)``: what the field reports, each distance next to its floor (every metric of the
    registry with a ``summary``, the classifier first)."""
    parts = [metric.summary(metrics) for scope in ("classifier", "global")
             for metric in by_scope(scope) if metric.summary is not None]
    return "; ".join(p for p in parts if p)
