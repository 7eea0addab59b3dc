"""Headline numbers read back from a validation result (the content of ``metrics.json``).

- :func:`worst_feature`: the generated feature with the largest KS statistic, with its W1/σ and
  the status of its KS check; shown by ``flashgen run`` and the fidelity benchmarks.
"""

from __future__ import annotations

from typing import Any

__all__ = ["worst_feature"]


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
