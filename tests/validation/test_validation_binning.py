"""Pooling sparse bins of the χ² test: hand-computed pools, and the null distribution of the
check with a small reference sample against a large generated one."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from flashgen.errors import FlashgenError
from flashgen.validation.binning import MIN_EXPECTED, auto_edges, counts_with_flow, pooled_edges
from flashgen.validation.compare import chi2_ndf_noise
from flashgen.validation.metric_defs.histogram_chi2 import chi2
from flashgen.validation.metric_registry import QuantityInput
from flashgen.validation.metrics import chi2_histograms


def test_pooled_edges_hand_computed() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0, 4.0])  # bins: <0, [0,1), [1,2), [2,3), [3,4], >4
    ref = np.array([1, 4, 30, 3, 2, 1])
    gen = ref * 10  # N = 41, M = 410: expected reference events = counts of ref
    # pooled from the low end to >= 5: [<0, [0,1)] (5), [1,2) (30), then 3 + 2 + 1 = 6 as one
    assert pooled_edges(edges, ref, gen, 5.0).tolist() == [1.0, 2.0]
    # a sparse remainder (1 + 0 + 0 + 1) joins the last pooled bin instead of standing alone
    assert pooled_edges(edges, np.array([10, 10, 1, 0, 0, 1]), np.array([100, 100, 10, 0, 0, 10]), 5.0).tolist() == [0.0]


def test_pooled_bins_expect_enough_and_keep_the_totals(rng: np.random.Generator) -> None:
    ref, gen = rng.exponential(1.0, 2_000), rng.exponential(1.0, 60_000)
    edges = auto_edges(ref)
    kept = pooled_edges(edges, counts_with_flow(ref, edges), counts_with_flow(gen, edges))
    assert set(kept) <= set(edges) and len(kept) < len(edges)
    n, m = counts_with_flow(ref, kept), counts_with_flow(gen, kept)
    expected = n.sum() * (n + m) / (n.sum() + m.sum())
    assert expected.min() >= MIN_EXPECTED
    assert n.sum() == 2_000 and m.sum() == 60_000
    # a well-filled histogram is left alone
    dense = np.linspace(-1.0, 1.0, 5)
    a, b = rng.uniform(-2, 2, 4_000), rng.uniform(-2, 2, 40_000)
    assert pooled_edges(dense, counts_with_flow(a, dense), counts_with_flow(b, dense)).tolist() == dense.tolist()


def test_pooled_edges_with_too_few_events_and_bad_input() -> None:
    edges = np.array([0.0, 1.0, 2.0])
    assert pooled_edges(edges, np.array([1, 2, 0, 3]), np.array([2, 4, 0, 6])).tolist() == [1.0]
    with pytest.raises(FlashgenError, match="do not match"):
        pooled_edges(edges, np.ones(3), np.ones(4))


def _nvtx_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """A count with a long upper tail (a pileup vertex count)."""
    return rng.poisson(rng.gamma(20.0, 0.9, n)).astype(np.float64)


def _padded_jet_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """A zero-padded slot: 0 in 92 % of the events, an exponential tail above 15 GeV."""
    return np.where(rng.random(n) < 0.08, 15.0 + rng.exponential(8.0, n), 0.0)


@pytest.mark.parametrize("draw", [_nvtx_like, _padded_jet_like])
def test_chi2_check_is_calibrated_for_a_small_reference_with_sparse_tails(draw, rng: np.random.Generator) -> None:
    """Two samples of one distribution, 1,912 against 50,000 events as the main job validates.

    Unpooled, a lone reference event in a tail bin adds ~M/N = 26 to the χ²: χ²/ndf is biased
    high and the 4σ check fails far more often than 3.2e-5. Pooled, χ²/ndf averages 1 and its
    p-values are uniform."""
    raw, pooled, pvalues, fails = [], [], [], 0
    for _ in range(300):
        ref, gen = draw(rng, 1_912), draw(rng, 50_000)
        edges = auto_edges(ref)
        raw.append(chi2_histograms(counts_with_flow(ref, edges), counts_with_flow(gen, edges)).chi2_ndf)
        kept = pooled_edges(edges, counts_with_flow(ref, edges), counts_with_flow(gen, edges))
        res = chi2_histograms(counts_with_flow(ref, kept), counts_with_flow(gen, kept))
        pooled.append(res.chi2_ndf)
        pvalues.append(res.pvalue)
        fails += res.chi2_ndf > max(2.0, chi2_ndf_noise(res.ndf))
    assert np.mean(raw) > 1.05  # the bias pooling removes (measured 1.07–1.18)
    # mean 1 with standard error ~ sqrt(2/ndf)/sqrt(300) <= 0.025 at ndf >= 10
    assert np.mean(pooled) == pytest.approx(1.0, abs=0.06)
    assert stats.kstest(pvalues, "uniform").pvalue > 1e-3
    assert fails == 0


def test_chi2_metric_pools_a_lone_event_beyond_the_generated_range(rng: np.random.Generator) -> None:
    """The held-out sample holds one event above everything generated (nvtx 33 against a
    training maximum of 30): it no longer decides the check alone."""
    ref = np.append(_nvtx_like(rng, 1_911), 45.0)
    gen = np.minimum(_nvtx_like(rng, 100_000), 40.0)
    edges = auto_edges(ref)
    q = QuantityInput(ref=ref, gen=gen, edges=edges, gen_all=gen)
    out = chi2(q)
    raw = chi2_histograms(counts_with_flow(ref, edges), counts_with_flow(gen, edges))
    assert raw.chi2_ndf > 2.0  # the lone event alone adds ~M/N = 52 to the χ²
    assert out["chi2_ndf"] < 2.0
    assert out["ndf"] < raw.ndf
