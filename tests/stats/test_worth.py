"""The worth estimator: variance parts of a pooled ensemble histogram, n_eff, amplification."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.stats.histogram_worth import (CALIBRATED_BINS, MIN_TRAINING_PER_BIN, binning, default_groups,
                                            describe, equal_population_edges, inherited_variance,
                                            member_fractions, member_ids, pyhf_sample, resolution,
                                            withheld_reason, worth_from_fractions, worth_of_sample)


def _synthetic(rng: np.random.Generator, bins: int, resamples: int, copies: int, p: float,
               s_data: float, s_opt: float) -> tuple[np.ndarray, np.ndarray]:
    """Members = truth + training-sample error (shared) + bootstrap error (per resample) + noise."""
    delta = rng.normal(0, s_data, bins)
    boot = rng.normal(0, s_data, (resamples, bins))
    f = p + delta + np.repeat(boot, copies, axis=0) + rng.normal(0, s_opt, (resamples * copies, bins))
    return f, f.mean(axis=0) - p


@pytest.mark.parametrize(("s_data", "s_opt"), [(0.01, 0.0), (0.01, 0.01), (0.005, 0.02)])
def test_variance_parts_match_a_simulated_ensemble(s_data: float, s_opt: float) -> None:
    rng = np.random.default_rng(1)
    b, c, k = 5, 2, 40_000
    f, error = _synthetic(rng, k, b, c, 0.1, s_data, s_opt)
    v = inherited_variance(f)
    m = b * c
    assert v.within.mean() == pytest.approx(s_opt**2, rel=0.03, abs=2e-7)
    expected = s_data**2 * (1 + 1 / b) + s_opt**2 / m
    # the formula is right for the pooled estimator: its actual mean squared error
    assert np.mean(error**2) == pytest.approx(expected, rel=0.05)
    raw = f.var(axis=0, ddof=1).mean()
    w = worth_from_fractions(f, np.linspace(0, 1, k + 1))
    covered = np.mean((w.band_low <= 0.1) & (0.1 <= w.band_high))
    if s_data >= s_opt:
        assert v.between.mean() == pytest.approx(s_data**2, rel=0.08)
        assert v.total.mean() == pytest.approx(expected, rel=0.08)
        assert 0.64 < covered < 0.72
    else:
        # optimisation noise dominates: the between-resample part, floored at 0 where noise
        # makes it negative, errs on the safe side, but far less than the raw member spread
        assert v.between.mean() > s_data**2 and v.total.mean() > expected
        assert v.total.mean() < 0.5 * raw
        assert 0.68 < covered < 0.85
    if s_opt > 0:  # the raw member spread over-states the pooled estimator's error
        assert raw > 1.2 * expected


def test_sampling_the_truth_is_worth_the_generated_events() -> None:
    """Members sampling the truth itself (no training sample): n_eff ~ all generated events."""
    rng = np.random.default_rng(3)
    k, m, n = 10, 10, 2000
    estimates, training, noise = [], [], []
    edges = np.linspace(0, 1, k + 1)
    for _ in range(200):
        counts = rng.multinomial(n, np.full(k, 1 / k), size=m)
        estimates.append(1 / worth_from_fractions(counts / n, edges).n_eff)
        v = inherited_variance(counts / n)
        training.append(v.training_unfloored.sum())
        noise.append(v.noise.sum())
    # unbiased parts: no training-sample variance, generation noise p(1-p)/(M n) per bin
    assert abs(np.mean(training)) < 3 * np.std(training) / np.sqrt(len(training))
    assert np.mean(noise) == pytest.approx(k * 0.09 / (m * n), rel=0.03)
    # n_eff floors each bin's training part at 0: conservative when it is truly 0 (the
    # noise of the between-resample estimate then only ever adds)
    assert 0.2 * m * n < 1 / np.mean(estimates) <= 0.8 * m * n


def test_worth_of_a_resampled_training_sample_is_the_training_sample() -> None:
    """No model (members resample the training events): n_eff ~ N / (1 + 1/B), G ~ 0.83."""
    rng = np.random.default_rng(4)
    n, k, m = 400, 8, 10
    edges = np.linspace(0, 1, k + 1)
    amps = []
    for rep in range(60):
        x = rng.random(n)
        values, member = [], []
        for j in range(m):
            boot = x[np.random.default_rng([rep, j // 2]).integers(0, n, n)]
            values.append(boot[rng.integers(0, n, 5000)])
            member.append(np.full(5000, j))
        w = worth_of_sample(np.concatenate(values), np.concatenate(member), edges, train_events=n)
        amps.append(1 / w.amplification)
    assert 1 / np.mean(amps) == pytest.approx(1 / (1 + 1 / 5), rel=0.12)


def test_member_fractions_count_outside_and_nan_in_the_denominator() -> None:
    values = np.array([0.5, 1.5, 5.0, np.nan, 0.2, 1.0])
    member = np.array([0, 0, 0, 0, 1, 1])
    ids, f = member_fractions(values, member, np.array([0.0, 1.0, 2.0]))
    assert ids.tolist() == [0, 1]
    np.testing.assert_allclose(f, [[0.25, 0.25], [0.5, 0.5]])


def test_json_keys_and_sentence() -> None:
    rng = np.random.default_rng(5)
    f, _ = _synthetic(rng, 4, 3, 2, 0.25, 0.01, 0.002)
    w = worth_from_fractions(f, np.arange(5.0), train_events=1000, generated_events=60_000, observable="mll")
    out = w.to_json()
    for key in ("edges", "fraction", "sigma", "band_low", "band_high", "n_eff_bins", "n_eff", "amplification"):
        assert key in out
    assert len(out["edges"]) == 5 and len(out["fraction"]) == 4
    assert out["amplification"] == pytest.approx(out["n_eff"] / 1000)
    text = describe(w, "GeV")
    assert text.startswith("60,000 generated events are worth ≈ ") and "in mll [GeV] (G = " in text


def test_pyhf_sample_scales_counts_and_uncertainty() -> None:
    f = np.array([[0.5, 0.5], [0.6, 0.4], [0.45, 0.55], [0.55, 0.45]])
    w = worth_from_fractions(f, np.array([0.0, 1.0, 2.0]), generated_events=1000)
    s = pyhf_sample(w, events=200.0)
    assert s["data"] == pytest.approx((w.fraction * 200).tolist())
    assert s["modifiers"][1]["type"] == "shapesys"
    assert s["modifiers"][1]["data"] == pytest.approx((w.sigma * 200).tolist())
    with pytest.raises(FlashgenError, match="unknown pyhf modifier"):
        pyhf_sample(w, modifier="histosys")


def test_equal_population_edges() -> None:
    x = np.random.default_rng(6).normal(size=10_000)
    edges = equal_population_edges(x, 10)
    counts, _ = np.histogram(x, edges)
    assert len(edges) == 11 and counts.min() >= 999 and counts.max() <= 1001
    with pytest.raises(FlashgenError, match="too few distinct values"):
        equal_population_edges(np.ones(100), 5)


@pytest.mark.parametrize(("fractions", "groups", "match"), [
    (np.ones((4, 3)) / 3, np.zeros(4), "at least 2 bootstrap resamples"),
    (np.ones((4, 3)) / 3, np.arange(4), "at least 2 members trained on the same resample"),
    (np.ones(3), None, "shape"),
    (np.ones((4, 3)) / 3, np.zeros(3), "one resample group per member"),
])
def test_bad_ensembles_are_refused(fractions, groups, match) -> None:
    with pytest.raises(FlashgenError, match=match):
        inherited_variance(fractions, groups)


@pytest.mark.parametrize("edges", [[0.0, 2.0, 1.0], [0.0, 0.0, 1.0], [1.0], [0.0, np.inf]])
def test_bad_edges_are_refused(edges) -> None:
    with pytest.raises(FlashgenError, match="edges"):
        worth_of_sample(np.zeros(8), np.arange(8) % 4, np.asarray(edges))


def test_default_groups_pair_members() -> None:
    assert default_groups(5).tolist() == [0, 0, 1, 1, 2]


def test_recorded_ensemble_reads_what_generate_writes() -> None:
    from flashgen.stats.histogram_worth import recorded_ensemble

    meta = {"model": {"train_events": 90, "ensemble": {"train_events": 100, "groups": [0, 0, 1, 1]}}}
    assert recorded_ensemble(meta) == (100, [0, 0, 1, 1])
    assert recorded_ensemble({"model": {"train_events": 90}}) == (90, None)
    assert recorded_ensemble({"model": "m.pt"}) == (None, None)
    assert recorded_ensemble({}) == (None, None)


def test_members_outside_the_recorded_ensemble_are_refused() -> None:
    values = np.linspace(0, 1, 12)
    with pytest.raises(FlashgenError, match=r"outside 0..3, the recorded ensemble"):
        worth_of_sample(values, np.arange(12) % 6, np.linspace(0, 1, 3), groups=[0, 0, 1, 1])
    with pytest.raises(FlashgenError, match="outside"):
        worth_of_sample(values, np.arange(12) % 4 - 1, np.linspace(0, 1, 3))


def test_binning_names_the_resolution() -> None:
    b = binning(np.linspace(50.0, 150.0, 21), "mll", unit="GeV", chosen="equal-population")
    assert b == {"bins": 20, "low": 50.0, "high": 150.0, "unit": "GeV", "chosen": "equal-population",
                 "text": "20 equal-population bins of mll in [50, 150] GeV"}
    assert binning(np.array([-6.0, 0.0, 6.0]), "x")["text"] == "2 bins of x in [-6, 6] (given edges)"
    with pytest.raises(FlashgenError, match="unknown binning choice"):
        binning(np.array([0.0, 1.0]), "x", chosen="uniform")


def _worth_at(bins: int, train_events: int | None, members: int = 4) -> object:
    """Members that agree up to small noise on equal fractions in ``bins`` bins (the last empty)."""
    rng = np.random.default_rng(8)
    p = np.full(bins, 1.0 / (bins - 1))
    p[-1] = 0.0
    f = np.clip(p + rng.normal(0, 1e-4, (members, bins)) * (p > 0), 0, None)
    return worth_from_fractions(f, np.arange(bins + 1.0), train_events=train_events, observable="x")


def test_resolution_counts_training_events_per_bin() -> None:
    # 1,000 training events in 20 bins (one empty): 50 per bin on average, 52.6 in each populated one
    r = resolution(_worth_at(20, 1000), chosen="edges")
    assert (r.bins, r.empty_bins, r.sparse_bins, r.reliable) == (20, 1, 0, True)
    assert r.mean_training_events_per_bin == pytest.approx(50, rel=1e-2)
    assert r.min_training_events_per_bin == pytest.approx(1000 / 19, rel=1e-2)
    assert r.warning(1.0) is None and r.text == "20 bins of x in [0, 20] (given edges)"
    # 10 in 40 bins: 0.25 on average, every populated bin below the 4 members
    r = resolution(_worth_at(40, 10))
    assert r.sparse_bins == 39 and r.empty_bins == 1 and r.reliable is False and r.withheld is None
    assert r.mean_training_events_per_bin == pytest.approx(0.25, rel=1e-2)
    assert r.mean_training_events_per_bin < MIN_TRAINING_PER_BIN
    text = r.warning(9.2)
    assert text is not None and text.startswith("at 40 bins of x in [0, 40] (given edges), the bins hold 0.25 ")
    assert "39 of 39 populated bins hold fewer training events than the ensemble's 4 members" in text
    assert "G = 9.2 there is not reliable" in text and "\n" not in text
    # 1,000 in 2,000 bins: beyond the calibrated binning G is withheld, whatever the sparsity
    r = resolution(_worth_at(2000, 1000))
    assert r.sparse_bins == 1999 and r.empty_bins == 1 and r.reliable is False
    assert r.mean_training_events_per_bin == pytest.approx(0.5, rel=1e-2)
    assert r.warning(9.2) == "at 2,000 bins of x in [0, 2000] (given edges), G is not stated: " + withheld_reason(2000)
    # few on average only: 200 events in 50 bins hold 4.1 each, which the 4 members do not exceed...
    r = resolution(_worth_at(50, 200))
    assert r.sparse_bins == 0 and r.reliable is False and "fewer than 5" in r.warning()
    # ...and 8 members make those bins sparse too
    assert resolution(_worth_at(50, 200, members=8)).sparse_bins == 49
    # without the training size nothing is known about the training events per bin
    r = resolution(_worth_at(40, None))
    assert r.reliable is None and r.sparse_bins is None and r.warning() is None and r.empty_bins == 1


def test_member_ids_must_be_integers() -> None:
    assert member_ids(np.array([0, 1, 2], dtype=np.int16)).dtype == np.int16
    converted = member_ids(np.array([0.0, 1.0, 3.0]))
    assert converted.dtype == np.int64 and converted.tolist() == [0, 1, 3]
    for bad, match in ((np.array([0.0, 0.5]), "such as 0.5"), (np.array([0.0, np.nan]), "such as nan"),
                       (np.array(["a", "b"]), "holds <U1 values")):
        with pytest.raises(FlashgenError, match="the 'member' column must hold integers"):
            member_ids(bad)
        with pytest.raises(FlashgenError, match=match):
            member_ids(bad)
    values = np.linspace(0, 1, 12)
    with pytest.raises(FlashgenError, match="must hold integers"):
        worth_of_sample(values, np.arange(12) % 4 + 0.25, np.linspace(0, 1, 3))
    same = worth_of_sample(values, (np.arange(12) % 4).astype(float), np.linspace(0, 1, 3))
    assert same.members == 4


def _two_pairs(bins: int, d: float = 0.002, e: float = 0.001) -> np.ndarray:
    """4 members in 2 resample pairs, every bin at 1/K: pair b at 1/K ± d, its members ± e (signs
    alternating over the bins, so each member's fractions sum to 1). Per bin: within-pair variance
    2e², between-pair part (2d² − e²) · 1.5, noise 2e² / 4: σ² = 3d² − e² = 1.1e-5."""
    sign = np.where(np.arange(bins) % 2 == 0, 1.0, -1.0)
    pair, member = np.array([1, 1, -1, -1])[:, None], np.array([1, -1, 1, -1])[:, None]
    return 1.0 / bins + sign * (pair * d + member * e)


def test_g_is_withheld_beyond_the_calibrated_binning() -> None:
    """At 50 bins (the finest calibrated, benchmarks/results/worth.md) G is stated; at 52 it is
    withheld with the reason: amplification None, n_eff only the variance behind the band."""
    assert CALIBRATED_BINS == 50 and withheld_reason(50) is None
    reason = ("52 bins are finer than the calibrated range (at most 50 bins, benchmarks/results/worth.md): "
              "there the members share an error the ensemble cannot see")
    assert withheld_reason(52) == reason
    assert withheld_reason(1000).startswith("1,000 bins are finer than the calibrated range")

    stated = worth_from_fractions(_two_pairs(50), np.arange(51.0), train_events=1000, generated_events=50_000,
                                  observable="x")
    np.testing.assert_allclose(stated.sigma**2, 1.1e-5, rtol=1e-9)
    assert stated.n_eff == pytest.approx(0.02 * 0.98 / 1.1e-5, rel=1e-9)  # 1,781.8
    assert stated.amplification == pytest.approx(1.7818, abs=1e-4) and stated.withheld is None
    assert describe(stated, at="50 bins of x") == ("50,000 generated events are worth ≈ 1,800 simulated events in x "
                                                   "(G = 1.8 over 1,000 training events) at 50 bins of x")
    r = resolution(stated)
    assert r.reliable is True and r.withheld is None and r.warning(stated.amplification) is None
    assert stated.to_json()["n_eff"] == pytest.approx(1781.818, abs=1e-3) and stated.to_json()["withheld"] is None

    fine = worth_from_fractions(_two_pairs(52), np.arange(53.0), train_events=1000, generated_events=52_000,
                                observable="x")
    # the band is kept; G and the histogram's n_eff are not stated
    np.testing.assert_allclose(fine.sigma**2, 1.1e-5, rtol=1e-9)
    assert fine.n_eff == pytest.approx((1 / 52) * (51 / 52) / 1.1e-5, rel=1e-9)
    assert fine.amplification is None and fine.withheld == reason
    out = fine.to_json()
    assert out["n_eff"] is None and out["amplification"] is None and out["withheld"] == reason
    assert len(out["sigma"]) == 52 and out["band_low"][0] < out["fraction"][0] < out["band_high"][0]
    r = resolution(fine)
    assert describe(fine, at=r.text) == "52,000 generated events in x: G not stated at 52 bins of x in [0, 52] (given edges)"
    assert describe(fine, "GeV") == "52,000 generated events in x [GeV]: G not stated"
    # 1,000 training events in 52 bins hold 19 each: not sparse, yet not stated
    assert r.sparse_bins == 0 and r.reliable is False and r.withheld == reason
    assert r.warning() == f"at 52 bins of x in [0, 52] (given edges), G is not stated: {reason}"
    assert r.sparsity()["withheld"] == reason
    # withheld with or without the training size: n_eff is the same statement as G
    assert worth_from_fractions(_two_pairs(52), np.arange(53.0)).withheld == reason
