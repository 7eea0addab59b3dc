"""1D Wasserstein distance of each quantity, in its unit and over the reference's standard
deviation (:func:`flashgen.validation.metrics.wasserstein_1d`)."""

from __future__ import annotations

from ..metric_registry import Metric, QuantityInput, Value, register


def w1(q: QuantityInput) -> dict[str, float]:
    """W1 (unit of the quantity) and W1/σ_ref (infinite for a constant reference unless 0)."""
    _, dist = q.ks_w1
    std = float(q.ref.std())
    return {"w1": dist, "w1_norm": dist / std if std > 0 else (0.0 if dist == 0 else float("inf"))}


W1 = register(Metric(
    "w1", "quantity", compute=w1, order=20, values=(
        Value("w1", "W1", unit=True),
        Value("w1_norm", "W1 / σ_ref", limit=0.05, inherited=True,
              description="1D Wasserstein distance divided by the reference's standard deviation "
                          "(0.05 = a shift of 5 % of the width)"),
    )))
