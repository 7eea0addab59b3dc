"""Headline numbers read back from a validation result (the content of ``metrics.json``).

- :func:`worst_feature`: the generated feature with the largest KS statistic, with its W1/σ and
  the status of its KS check; shown by ``flashgen run`` and the fidelity benchmarks.
- :func:`distances`: the Fréchet and kernel distances with their truth-vs-truth floors, and
  :func:`headline`: the one-line statement of the classifier AUC and those distances.
"""

from __future__ import annotations

from typing import Any

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
    """FPD (N → ∞ extrapolation, with its fit error) and KPD (median, half the 16–84 % range of
    its batches), each with its truth-vs-truth floor: mean and standard deviation of the same
    metric over the reference-vs-reference comparisons at the same sample sizes."""
    values = metrics.get("metrics", {})
    fpd, kpd = values.get("global/frechet", {}), values.get("global/kpd", {})
    fpd_floor, fpd_floor_std = _floor(metrics, "global/frechet", "fpd")
    kpd_floor, kpd_floor_std = _floor(metrics, "global/kpd", "kpd")
    return {"fpd": fpd.get("fpd"), "fpd_err": fpd.get("fpd_err"), "fpd_floor": fpd_floor,
            "fpd_floor_std": fpd_floor_std, "kpd": kpd.get("kpd"), "kpd_spread": kpd.get("kpd_spread"),
            "kpd_floor": kpd_floor, "kpd_floor_std": kpd_floor_std}


def _pm(value: float | None, err: float | None, fmt: str) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:{fmt}}" + (f" ± {err:{fmt}}" if err is not None and err == err else "")


def headline(metrics: dict[str, Any]) -> str:
    """``classifier AUC 0.561 ± 0.013 (5 trainings: spread 0.004); FPD ... (floor ...); KPD ...
    (floor ...)``: what the field reports, each distance next to its floor."""
    parts = []
    clf = metrics.get("classifier")
    if clf:
        runs = clf.get("repeats", 1)
        spread = f" ({runs} trainings: spread {clf.get('auc_spread', 0.0):.3f})" if runs > 1 else ""
        parts.append(f"classifier AUC {clf['auc']:.3f} ± {clf['auc_err']:.3f}{spread}")
    d = distances(metrics)
    if d["fpd"] is not None:
        parts.append(f"FPD {_pm(d['fpd'], d['fpd_err'], '.4f')} "
                     f"(truth-vs-truth floor {_pm(d['fpd_floor'], d['fpd_floor_std'], '.4f')})")
    if d["kpd"] is not None:
        parts.append(f"KPD {_pm(d['kpd'], d['kpd_spread'], '.2e')} "
                     f"(floor {_pm(d['kpd_floor'], d['kpd_floor_std'], '.2e')})")
    return "; ".join(parts)
