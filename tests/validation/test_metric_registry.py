"""The metric registry: every metric declared once; a new one reaches compare, report and summary."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flashgen.data import EventTable
from flashgen.errors import FlashgenError
from flashgen.validation import ValidationSettings, validate
from flashgen.validation.metric_registry import (SCOPES, THRESHOLDS, GlobalInput, Metric,
                                                 QuantityInput, Value, distance_summary, register,
                                                 registered, unregister)
from flashgen.validation.summary import distances, headline


def test_every_metric_has_the_required_fields() -> None:
    metrics = registered()
    assert {"ks", "w1", "chi2", "defined_fraction", "efficiency", "correlation", "frechet", "kpd",
            "classifier"} <= set(metrics)
    for name, metric in metrics.items():
        assert metric.name == name and metric.scope in SCOPES and metric.values
        assert metric.compute is not None or metric.scope == "classifier"
        for v in metric.values:
            assert v.name and v.label and format(1.5, v.fmt)
            assert callable(v.noise)
            if v.limit is not None:
                assert v.description and np.isfinite(v.limit)


def test_names_are_unique_and_thresholds_follow_the_registry() -> None:
    values = [v.name for m in registered().values() for v in m.values]
    assert len(values) == len(set(values))
    assert list(THRESHOLDS) == [v.name for m in registered().values() for v in m.values
                                if v.limit is not None]
    assert list(THRESHOLDS) == ["ks_stat", "w1_norm", "chi2_ndf", "finite_diff", "efficiency_diff",
                                "corr_frobenius", "corr_max_abs", "fpd", "auc"]
    with pytest.raises(FlashgenError, match="already registered"):
        register(registered()["ks"])
    with pytest.raises(FlashgenError, match="already used"):
        register(Metric("ks_again", "quantity", (Value("ks_stat", "KS"),), compute=lambda q: {}))
    with pytest.raises(FlashgenError, match="unknown scope"):
        Metric("x", "nowhere", (Value("x", "x"),), compute=lambda q: {})


def _mean_difference(q: QuantityInput) -> dict[str, float]:
    return {"mean_diff": abs(float(q.gen.mean()) - float(q.ref.mean()))}


def _centroid_distance(g: GlobalInput) -> dict[str, float]:
    ref, gen = g.raw
    return {"centroid": float(np.linalg.norm(np.nanmean(ref, 0) - np.nanmean(gen, 0))),
            "centroid_err": 0.0}


@pytest.fixture
def throwaway() -> Iterator[None]:
    """Two metrics registered for one test only: a judged 1D mean difference and a reported
    whole-event centroid distance with a summary."""
    register(Metric("mean_difference", "quantity", compute=_mean_difference, order=35, values=(
        Value("mean_diff", "|Δ mean|", limit=1e6, description="absolute difference of the means"),)))
    register(Metric("centroid", "global", compute=_centroid_distance, order=95,
                    summary=distance_summary("global/centroid", "centroid", "centroid_err",
                                             "CENTROID", ".3f"),
                    values=(Value("centroid", "centroid distance", error="centroid_err"),
                            Value("centroid_err", "centroid distance error", column=False))))
    try:
        yield
    finally:
        unregister("mean_difference")
        unregister("centroid")
    assert "mean_difference" not in registered() and "mean_diff" not in THRESHOLDS


def _check(result: Mapping[str, Any], key: str, metric: str) -> dict[str, Any] | None:
    return next((c for c in result["checks"] if c["key"] == key and c["metric"] == metric), None)


def test_a_new_metric_reaches_compare_report_and_summary(throwaway: None, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = EventTable({"a": rng.normal(size=800), "b": rng.normal(size=800)})
    gen = EventTable({"a": rng.normal(0.1, 1, 800), "b": rng.normal(size=800)})
    res = validate(ref, gen, tmp_path / "report",
                   ValidationSettings(repeats=2, classifier=False, kpd_batch_size=200), quiet=True)
    values = res["metrics"]["feature/a"]
    assert values["mean_diff"] == pytest.approx(abs(values["mean_gen"] - values["mean_ref"]))
    check = _check(res, "feature/a", "mean_diff")
    assert check is not None and check["status"] in ("pass", "warn")
    assert "mean_diff" in res["resolution"]["feature/a"] and "mean_diff" in res["thresholds"]
    assert res["metrics"]["global/centroid"]["centroid"] > 0
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<th>|Δ mean|</th>" in page and "centroid distance" in page
    assert "CENTROID" in headline(res) and "centroid_floor" in distances(res)


def test_the_registry_is_restored_after_the_fixture() -> None:
    assert "mean_difference" not in registered() and "centroid" not in registered()
