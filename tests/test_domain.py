"""The training domain of conditions: ranges and pairwise support, on dataset B's true electrons."""

from __future__ import annotations

import numpy as np

from flashgen.domain import Domain
from flashgen.sources.electron import simulate_electrons


def _conditions(n: int, seed: int) -> dict[str, np.ndarray]:
    table = simulate_electrons(n, seed)
    return {c: np.asarray(table[c]) for c in ("gen_pt", "gen_eta", "gen_phi")}


def test_domain_flags_rows_outside_range_and_support_only() -> None:
    domain = Domain.fit(_conditions(200_000, 1))
    fresh = domain.outside(_conditions(20_000, 2))  # the same distribution: (almost) nothing flagged
    assert fresh.rows == 20_000 and fresh.fraction < 0.005
    # pT = 1e6 GeV: outside the range; pT = 15 GeV at |eta| = 1.8: inside the ranges, but dataset B
    # has pT <= 20 / cosh(eta) = 6.4 GeV there, so no training row is near it
    probe = {"gen_pt": np.array([1e6, 15.0, 15.0, 3.0]), "gen_eta": np.array([0.0, 1.8, -1.8, 1.8]),
             "gen_phi": np.array([1.0, 1.0, 4.0, 2.0])}
    out = domain.outside(probe)
    assert (out.out_of_range, out.out_of_support) == (1, 2)
    assert "gen_pt" in out.worst


def test_domain_round_trips_through_plain_values() -> None:
    import json

    domain = Domain.fit(_conditions(5000, 3))
    again = Domain.from_state(json.loads(json.dumps(domain.state())))
    probe = _conditions(1000, 4)
    assert again.outside(probe) == domain.outside(probe)
    assert again.names == ("gen_pt", "gen_eta", "gen_phi") and again.low == domain.low
