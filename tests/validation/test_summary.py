"""Headline numbers read back from a validation result (flashgen.validation.summary)."""

from __future__ import annotations

from flashgen.validation.summary import worst_feature


def test_worst_feature_of_a_metrics_dict() -> None:
    metrics = {"metrics": {"feature/a": {"ks_stat": 0.1, "w1_norm": 0.2},
                           "feature/b": {"ks_stat": 0.3, "w1_norm": 0.05},
                           "observable/mll": {"ks_stat": 0.9}},
               "checks": [{"key": "feature/b", "metric": "ks_stat", "status": "fail"}]}
    assert worst_feature(metrics) == {"name": "b", "ks_stat": 0.3, "w1_norm": 0.05, "status": "fail"}
    assert worst_feature({"metrics": {}}) is None


def test_worst_feature_without_a_check_or_a_statistic() -> None:
    metrics = {"metrics": {"feature/a": {"ks_stat": 0.2}, "feature/b": {"ks_stat": None}}}
    assert worst_feature(metrics) == {"name": "a", "ks_stat": 0.2, "w1_norm": None, "status": None}
    assert worst_feature({}) is None
