"""The amplification study: perfect generators, reproducibility, failures, reports."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.sources.toys import CamelBack, Ring
from flashgen.studies.amplification import AmplificationResult, amplification_study, training_sample
from flashgen.studies.trainers import (EmpiricalTrainer, FlashgenTrainer, KDETrainer, TruthTrainer,
                                       cv_bandwidth, make_trainer)
from flashgen.training import TrainSettings
from flashgen.studies.amplification_report import format_summary, markdown_report, plot_amplification


@dataclass(frozen=True)
class FlakyTrainer:
    """Fails on the repetition whose training sample starts with ``bad_first`` (None: always)."""

    bad_first: float | None

    def __call__(self, train_points: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
        if self.bad_first is None or train_points[0, 0] == self.bad_first:
            raise RuntimeError("diverged")
        return TruthTrainer(CamelBack())(train_points, seed)


def _row(result: AmplificationResult, method: str, k: int, n: int) -> dict:
    return next(r for r in result.summary() if r["method"] == method and r["K"] == k and r["n_events"] == n)


def test_perfect_generator_is_worth_its_sample_size() -> None:
    """Sampling the truth itself: n_gen generated events are worth n_gen sampled events."""
    result = amplification_study("camelback", {"truth": TruthTrainer(CamelBack())}, n_train=100,
                                 quantiles=(10, 20), repeats=40, generated=(1000,), seed=1)
    for k in (10, 20):
        row = _row(result, "truth", k, 1000)
        assert abs(row["n_equiv"] - 1000) < 4 * row["n_equiv_err"]
        assert row["n_equiv"] == pytest.approx(1000, rel=0.3)
        assert row["gain"] == pytest.approx(row["n_equiv"] / 100)
        # the training sample and the sampled reference sets are worth their sizes too
        train = _row(result, "train", k, 100)
        assert train["n_equiv"] == pytest.approx(100, rel=0.3)
        for n in (100, 1000, 10_000):
            sampled = _row(result, "sampled", k, n)
            assert sampled["mse_expected"] == pytest.approx((1 - 1 / k) / (k * n))
            assert abs(sampled["mse"] - sampled["mse_expected"]) < 4 * sampled["mse_err"]


def test_ring_study_with_kde_and_fit() -> None:
    result = amplification_study(Ring(), {"kde": KDETrainer()}, n_train=100, quantiles=(10, 20),
                                 repeats=4, generated=(100, 5000), seed=2)
    assert result.toy == "ring" and result.grids == {10: (2, 5), 20: (4, 5)}
    assert result.mse["kde"].shape == (4, 2, 2)
    assert result.mse["fit"].shape == (4, 2, 1)
    assert np.all(np.isfinite(result.mse["kde"]))
    # the 2-parameter fit with exact azimuthal symmetry is far better than the raw sample
    assert _row(result, "fit", 10, 100)["n_equiv"] > 2 * _row(result, "train", 10, 100)["n_equiv"]


def test_same_seed_same_numbers_and_workers_do_not_matter() -> None:
    kwargs = dict(n_train=50, quantiles=(10,), repeats=3, generated=(200,), seed=9)
    one = amplification_study("camelback", {"kde": KDETrainer()}, **kwargs, workers=1)
    again = amplification_study("camelback", {"kde": KDETrainer()}, **kwargs, workers=1)
    two = amplification_study("camelback", {"kde": KDETrainer()}, **kwargs, workers=2)
    for method in one.mse:
        assert np.array_equal(one.mse[method], again.mse[method])
        assert np.array_equal(one.mse[method], two.mse[method])
    other = amplification_study("camelback", {"kde": KDETrainer()}, **{**kwargs, "seed": 10})
    assert not np.array_equal(one.mse["kde"], other.mse["kde"])


def test_training_sample_is_shared_and_reproducible() -> None:
    a = training_sample(CamelBack(), 100, seed=3, rep=0)
    assert a.shape == (100, 1)
    assert np.array_equal(a, training_sample(CamelBack(), 100, seed=3, rep=0))
    assert not np.array_equal(a, training_sample(CamelBack(), 100, seed=3, rep=1))


def test_failed_trainings_are_recorded_not_fatal() -> None:
    bad = float(training_sample(CamelBack(), 30, seed=4, rep=1)[0, 0])
    result = amplification_study("camelback", {"flaky": FlakyTrainer(bad)}, n_train=30, quantiles=(10,),
                                 repeats=3, generated=(100,), seed=4)
    assert len(result.errors["flaky"]) == 1 and "diverged" in result.errors["flaky"][0]
    assert np.isnan(result.mse["flaky"][1]).all() and np.isfinite(result.mse["flaky"][[0, 2]]).all()
    assert _row(result, "flaky", 10, 100)["repeats_ok"] == 2
    assert "1 of 3 trainings failed" in format_summary(result)


def test_every_training_failing_is_an_error() -> None:
    with pytest.raises(FlashgenError, match="every training of 'flaky' failed"):
        amplification_study("camelback", {"flaky": FlakyTrainer(None)}, n_train=30,
                            quantiles=(10,), repeats=2, generated=(100,))


def test_bad_arguments() -> None:
    with pytest.raises(FlashgenError, match="unknown toy"):
        amplification_study("donut", {})
    with pytest.raises(FlashgenError, match="at least 2 repetitions"):
        amplification_study("camelback", {}, repeats=1)
    with pytest.raises(FlashgenError, match="reserved"):
        amplification_study("camelback", {"fit": KDETrainer()}, repeats=2)
    with pytest.raises(FlashgenError, match="unknown generator"):
        make_trainer("vae", CamelBack())


def test_result_round_trip_and_reports(tmp_path) -> None:
    result = amplification_study("camelback", {"kde": KDETrainer(), "empirical": EmpiricalTrainer()},
                                 n_train=40, quantiles=(10, 20), repeats=3, generated=(100, 1000), seed=5)
    path = tmp_path / "amp.json"
    result.save(path)
    payload = json.loads(path.read_text())
    assert {r["method"] for r in payload["summary"]} == {"train", "sampled", "fit", "kde", "empirical"}
    back = AmplificationResult.load(path)
    for method in result.mse:
        assert np.array_equal(back.mse[method], result.mse[method])
    assert back.grids == result.grids and back.generated == result.generated
    md = markdown_report(back, {"published fit": {10: "≈ 300"}})
    assert "| 10 (10) |" in md and "≈ 300" in md and "kde @ 1,000" in md
    plot_amplification(back, tmp_path / "amp.png")
    assert (tmp_path / "amp.png").stat().st_size > 10_000
    with pytest.raises(FlashgenError, match="not an amplification result"):
        AmplificationResult.load(tmp_path / "missing.json")


def test_cv_bandwidth_near_optimal_for_a_gaussian() -> None:
    """For a Gaussian the MISE-optimal factor is (4/3)^(1/5) n^(-1/5) = 0.27 at n = 1000."""
    x = np.random.default_rng(0).standard_normal((1000, 1))
    factor = cv_bandwidth(x)
    assert 0.15 < factor < 0.45
    # duplicated events of a bootstrap resample must not collapse the width
    boot = x[np.random.default_rng(1).integers(0, 1000, 1000)]
    assert cv_bandwidth(boot) == pytest.approx(factor, rel=0.4)


def test_flashgen_trainer_is_picklable_and_checks_columns() -> None:
    import pickle

    trainer = make_trainer("flow", Ring(), preset="camelback", settings=TrainSettings(steps=10))
    assert isinstance(trainer, FlashgenTrainer) and trainer.columns == ("x", "y")
    assert pickle.loads(pickle.dumps(trainer)) == trainer
    with pytest.raises(FlashgenError, match="columns"):
        trainer(np.zeros((10, 1)), 0)
