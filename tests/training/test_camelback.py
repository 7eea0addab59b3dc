"""Camel back: a model trained on 100 events generates events better than the 100 themselves."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.generation import sample
from flashgen.sources.toys import CamelBack, simulate_toy
from flashgen.training import train


def quantile_mse(x: np.ndarray, k: int) -> float:
    """Σ(f_i − 1/K)²/K over K equal-probability bins of the exact camel back."""
    u = CamelBack().cdf(x)
    f = np.bincount(np.minimum((u * k).astype(int), k - 1), minlength=k) / len(x)
    return float(np.mean((f - 1 / k) ** 2))


@pytest.mark.parametrize("data_seed", [3, 4])
def test_flow_on_100_events_beats_the_training_sample(data_seed: int) -> None:
    table = simulate_toy("camelback", 100, seed=data_seed)
    model = train(table, "flow", preset="camelback")
    x = sample(model, 100_000, seed=1)["x"]
    # cheap by construction (seconds of CPU): the preset's short schedule on a small network
    result, config = model.info["result"], model.info["config"]
    assert result["steps"] == config["steps"] == 2000 and config["batch_size"] == 100
    assert model.n_parameters() < 1_000
    # each mode is learnt from ~50 events: its mean is known to 1/sqrt(50) = 0.14, allow 3 sigma
    assert np.mean(x[x < 0]) == pytest.approx(-4.0, abs=0.42)
    assert np.mean(x[x > 0]) == pytest.approx(4.0, abs=0.42)
    assert np.std(x[x > 0]) == pytest.approx(1.0, abs=0.3)
    assert np.mean(x > 0) == pytest.approx(0.5, abs=0.15)
    generated, training = quantile_mse(x, 10), quantile_mse(table["x"], 10)
    assert generated < training, f"generated {generated:.2e} vs training {training:.2e}"
