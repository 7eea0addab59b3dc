"""A metric that cannot be computed is reported as such (NaN values, a reason), never dropped."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from flashgen.data import EventTable
from flashgen.validation import metrics as metrics_module
from flashgen.validation import ValidationSettings, validate
from flashgen.validation.compare import (Plan, _nan_reason, build_checks, compare,
                                         null_metrics)
from flashgen.validation.metric_defs.efficiency_difference import efficiency as _efficiency
from flashgen.validation.metrics import gaussianize
from flashgen.validation.thresholds import STATUSES, judge


def _disjoint(seed: int, n: int = 2000) -> dict[str, np.ndarray]:
    """Two features never defined in the same event: no complete row for the multivariate
    metrics (correlation matrices, Fréchet distance), while each 1D comparison works."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    even = np.arange(n) % 2 == 0
    a[even], b[~even] = np.nan, np.nan
    return {"a": a, "b": b}


def _sample(values: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(values)
    for name, v in values.items():
        r = reference[name]
        out[f"gauss:{name}"] = gaussianize(np.sort(r[np.isfinite(r)]), v)
    return out


@pytest.fixture
def samples() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], Plan]:
    ref_raw, gen_raw = _disjoint(1), _disjoint(2)
    plan = Plan(quantities={}, slicings=[], multivariate=["a", "b"], fpd_batches=3)
    return _sample(ref_raw, ref_raw), _sample(gen_raw, ref_raw), plan


def test_compare_keeps_uncomputable_metrics_with_nan_and_a_reason(samples) -> None:
    ref, gen, plan = samples
    reasons: dict[str, str] = {}
    res = compare(ref, gen, plan, unavailable=reasons)
    assert set(res["global/correlation"]) == {"corr_frobenius", "corr_max_abs"}
    assert set(res["global/frechet"]) == {"fpd", "fpd_err"}
    assert set(res["global/kpd"]) == {"kpd", "kpd_spread"}
    assert all(np.isnan(v) for key in ("global/correlation", "global/frechet", "global/kpd")
               for v in res[key].values())
    assert set(reasons) == {"global/correlation", "global/frechet", "global/kpd"}
    assert "at least 10 complete events" in reasons["global/kpd"]
    assert "complete events" in reasons["global/correlation"]
    assert reasons["global/frechet"].startswith("Fréchet distance not computed")
    assert "at least 10 complete events" in reasons["global/frechet"]
    # without the output argument the keys are there all the same
    assert compare(ref, gen, plan).keys() == res.keys()


def test_null_metrics_and_checks_of_an_uncomputable_metric(samples) -> None:
    ref, _, plan = samples
    null = null_metrics(ref, 2000, 2000, plan, repeats=3)
    assert null["global/frechet"]["fpd"].shape == (3,)
    assert np.all(np.isnan(null["global/frechet"]["fpd"]))
    checks = build_checks(compare(ref, samples[1], plan), null)
    status = {(c.key, c.metric): c.status for c in checks}
    assert status == {("global/correlation", "corr_frobenius"): "unavailable",
                      ("global/correlation", "corr_max_abs"): "unavailable",
                      ("global/frechet", "fpd"): "unavailable"}


def test_a_linear_algebra_failure_is_reported_with_its_type(samples, monkeypatch) -> None:
    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(metrics_module, "frechet_distance_extrapolated", singular)
    ref, gen, plan = samples
    reasons: dict[str, str] = {}
    compare(ref, gen, plan, unavailable=reasons)
    assert reasons["global/frechet"] == "Fréchet distance not computed: LinAlgError: Singular matrix"


def test_judge_never_passes_a_nan_value() -> None:
    assert "unavailable" in STATUSES
    assert judge(float("nan"), 0.1, 0.05) == "unavailable"
    assert judge(float("nan"), 0.1, float("nan")) == "unavailable"
    # unchanged: an unknown noise level judges by the tolerance alone
    assert judge(0.05, 0.1, float("nan")) == "pass"
    assert judge(0.5, 0.1, float("nan")) == "fail"


def test_an_empty_slice_says_which_sample_is_empty() -> None:
    eff = _efficiency(np.array([]), np.array([1.0, 0.0, 1.0]))
    assert np.isnan(eff["efficiency_diff"])
    assert _nan_reason(eff) == ("efficiency_diff not computed: no reference event with a defined "
                                "value in this slice")
    assert _nan_reason(_efficiency(np.array([1.0]), np.array([0.0]))) == ""
    assert "ndf = 0" in _nan_reason({"ks_stat": 0.0, "chi2_ndf": float("nan"), "ndf": 0.0})


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self.classes.append(dict(attrs).get("class") or "")


def test_validate_reports_uncomputable_metrics_in_json_and_html(tmp_path: Path) -> None:
    ref, gen = EventTable(_disjoint(1)), EventTable(_disjoint(2))
    out = tmp_path / "report"
    res = validate_quietly(ref, gen, out)
    expected = {"global/correlation", "global/frechet"}
    assert set(res["unavailable"]) == expected | {"global/kpd"}  # KPD: reported, not a check
    assert res["metrics"]["global/frechet"] == {"fpd": None, "fpd_err": None}
    assert res["metrics"]["global/kpd"] == {"kpd": None, "kpd_spread": None}
    assert res["metrics"]["global/correlation"] == {"corr_frobenius": None, "corr_max_abs": None}
    na = [c for c in res["checks"] if c["status"] == "unavailable"]
    assert {c["key"] for c in na} == expected and all(c["value"] is None for c in na)
    assert res["summary"]["counts"]["unavailable"] == 3
    assert "3 more could not be computed (global/correlation, global/frechet)" in \
        res["summary"]["verdict"]
    assert "correlation" not in res  # no matrices to draw

    stored = json.loads((out / "metrics.json").read_text())
    assert stored["unavailable"] == res["unavailable"]
    assert stored["metrics"]["global/frechet"] == {"fpd": None, "fpd_err": None}
    assert "correlation.png" not in stored["files"]

    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="unavailable"' in page
    for key, reason in res["unavailable"].items():
        assert f"<code>{key}</code>: {reason}" in page
    cells = _Cells()
    cells.feed(page)
    assert cells.classes.count("unavailable") == 3  # the three global checks, not as a pass


def test_no_unavailable_metric_in_an_ordinary_comparison(rng: np.random.Generator) -> None:
    ref = EventTable({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    gen = EventTable({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    res = validate_quietly(ref, gen)
    assert res["unavailable"] == {} and res["summary"]["counts"]["unavailable"] == 0
    assert "could not be computed" not in res["summary"]["verdict"]
    assert res["metrics"]["global/frechet"]["fpd"] is not None


def validate_quietly(ref: EventTable, gen: EventTable, out: Path | None = None) -> dict:
    return validate(ref, gen, out, ValidationSettings(seed=0, repeats=2, classifier=False), quiet=True)
