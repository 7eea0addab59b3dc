"""Folded statistics of oversampled samples: exact limits, a toy calibration, validation and
``flashgen worth`` on a table with an ``event`` column."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flashgen.cli.main import main
from flashgen.data import EventTable, write_table
from flashgen.errors import FlashgenError
from flashgen.stats.oversampling import extra_fraction_variance, folded_histogram, oversampling_gain
from flashgen.validation.binning import counts_with_flow
from flashgen.validation.pipeline import prepare
from flashgen.validation.compare import compare

EDGES = np.linspace(-3.0, 3.0, 13)


def test_one_copy_is_poisson_and_identical_copies_gain_nothing() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=5000)
    h = folded_histogram(x, np.arange(5000), EDGES)
    np.testing.assert_allclose(h.variance, h.counts * (1 - h.counts / 5000))  # binomial
    np.testing.assert_array_equal(h.naive_variance, h.counts)
    assert oversampling_gain(x, np.arange(5000), EDGES).gain == pytest.approx(1.0)
    same = oversampling_gain(np.repeat(x, 7), np.repeat(np.arange(5000), 7), EDGES)
    assert same.copies == 7 and same.gain == pytest.approx(1.0) and same.naive_error_ratio == pytest.approx(7**-0.5)


def test_independent_copies_gain_k() -> None:
    rng = np.random.default_rng(2)
    g = oversampling_gain(rng.normal(size=200_000), np.repeat(np.arange(20_000), 10), EDGES)
    assert g.copies == 10 and g.events == 20_000
    assert g.gain == pytest.approx(10.0, rel=0.02) and g.equivalent_events == pytest.approx(200_000, rel=0.02)


def test_flow_bins_match_the_validation_histogram() -> None:
    x = np.array([-5.0, -3.0, -2.5, 0.0, 2.5, 3.0, 7.0, np.nan])
    h = folded_histogram(x, np.arange(8), EDGES, flow=True)
    np.testing.assert_array_equal(h.counts, counts_with_flow(x, EDGES))
    w = folded_histogram(x, np.zeros(8, dtype=int), EDGES, weights=np.full(8, 2.0))
    assert w.counts.sum() == 10.0 and w.naive_variance.sum() == 20.0  # five values inside


def test_folded_variance_matches_the_spread_over_repetitions() -> None:
    """Per event x ~ N(0, 1), each of 5 copies x + 0.5 ε: 300 repetitions of 2,000 events. The
    folded variance agrees with the bins' empirical variance (its own error with 300 repetitions
    is ~8 %, hence 20 %); the naive Σ w² is a third too small."""
    rng = np.random.default_rng(3)
    reps, n, k = 300, 2000, 5
    counts, folded, naive = [], [], []
    event = np.repeat(np.arange(n), k)
    for _ in range(reps):
        x = np.repeat(rng.normal(size=n), k) + 0.5 * rng.normal(size=n * k)
        h = folded_histogram(x, event, EDGES)
        counts.append(h.counts)
        folded.append(h.variance)
        naive.append(h.naive_variance)
    empirical = np.var(counts, axis=0, ddof=1)
    central = slice(3, 9)
    np.testing.assert_allclose(np.mean(folded, axis=0)[central], empirical[central], rtol=0.2)
    # measured: the naive sum is 0.53-0.80 of the empirical variance bin by bin, 0.68 in all
    assert np.mean(naive, axis=0)[central].sum() < 0.8 * empirical[central].sum()


def test_errors() -> None:
    with pytest.raises(FlashgenError, match="equal length"):
        folded_histogram(np.zeros(3), np.zeros(2, dtype=int), EDGES)
    with pytest.raises(FlashgenError, match="non-negative integers"):
        folded_histogram(np.zeros(2), np.array([0.5, 1.0]), EDGES)
    with pytest.raises(FlashgenError, match="non-negative integers"):
        folded_histogram(np.zeros(2), np.array([-1, 1]), EDGES)
    with pytest.raises(FlashgenError):
        folded_histogram(np.zeros(2), np.array([0, 1]), np.array([1.0, 0.0]))


def _copies(n: int, k: int, seed: int) -> EventTable:
    """n events, each k identical copies (the extreme correlation), with event and copy."""
    x = np.random.default_rng(seed).normal(size=n)
    return EventTable({"x": np.repeat(x, k), "event": np.repeat(np.arange(n), k),
                       "copy": np.tile(np.arange(k, dtype=np.int16), n)})


def test_validation_folds_the_copies() -> None:
    ref = EventTable({"x": np.random.default_rng(9).normal(size=20_000)})
    gen = _copies(2000, 10, 10)
    comp = prepare(ref, gen, seed=0)
    assert comp.features == ["x"] and comp.event is not None
    assert any("oversamples 2,000" in n for n in comp.notes)
    folded = compare(comp.ref, comp.gen, comp.plan, event=comp.event)["feature/x"]
    naive = compare(comp.ref, comp.gen, comp.plan)["feature/x"]
    # 10 identical copies: the naive χ² is ~10x too large, the folded one is a χ² of 2,000 events
    assert naive["chi2_ndf"] > 4 and folded["chi2_ndf"] < 2.5
    assert folded["chi2_ndf_statistical"] == pytest.approx(naive["chi2_ndf"])
    extra = extra_fraction_variance(gen["x"], gen["event"], comp.plan.quantities["x"].edges)
    assert np.all(extra >= 0) and extra.sum() > 0


def test_worth_of_an_oversampled_sample(tmp_path, capsys) -> None:
    gen = _copies(3000, 5, 11)
    gen = EventTable({**gen.data, "x": gen["x"] + 0.5 * np.random.default_rng(12).normal(size=15_000)})
    write_table(gen, tmp_path / "g.parquet")
    assert main(["worth", "--generated", str(tmp_path / "g.parquet"), "--observable", "x", "--bins", "10",
                 "--out", str(tmp_path / "w.json")]) == 0
    out = json.loads((tmp_path / "w.json").read_text())
    over = out["oversampling"]
    assert over["events"] == 3000 and over["copies"] == 5 and out["inherited"] is None
    # copies share most of their value (σ 1 of the event, 0.5 of the copy): gain well below 5 (2.8 measured)
    assert 1.5 < over["gain"] < 4.0 and over["error_ratio"] > over["naive_error_ratio"]
    assert "worth" in capsys.readouterr().out
    write_table(EventTable({**gen.data, "member": (gen["event"] % 4).astype(np.int16)}), tmp_path / "m.parquet")
    assert main(["worth", "--generated", str(tmp_path / "m.parquet"), "--observable", "x", "--bins", "10",
                 "--train-events", "1000", "--out", str(tmp_path / "m.json"), "-q"]) == 0
    both = json.loads((tmp_path / "m.json").read_text())
    assert "n_eff" in both and both["oversampling"]["copies"] == 5
