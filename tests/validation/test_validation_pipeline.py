"""``validate`` end to end (without a report): same truth passes, a shifted truth is caught."""

from __future__ import annotations

import numpy as np
import pytest
from validation_synthetic import make_zmumu

from flashgen.data import Column, EventTable
from flashgen.errors import FlashgenError
from flashgen.sources.electron import simulate_electrons
from flashgen.sources.toys import simulate_toy
from flashgen.validation import ValidationSettings, validate

N = 20_000


@pytest.fixture(scope="module")
def reference() -> EventTable:
    return make_zmumu(N, 1)


@pytest.fixture(scope="module")
def same_truth(reference: EventTable) -> dict:
    return validate(reference, make_zmumu(N, 2), None,
        ValidationSettings(seed=1, repeats=6), quiet=True)


def _feature_pvalues(result: dict) -> np.ndarray:
    return np.array([m["ks_pvalue"] for k, m in result["metrics"].items()
                     if k.startswith(("feature/", "observable/"))])


def test_same_truth_is_indistinguishable(same_truth: dict) -> None:
    clf = same_truth["classifier"]
    assert abs(clf["auc"] - 0.5) < 0.02
    assert abs(clf["significance"]) < 4
    statuses = {c["status"] for c in same_truth["checks"]}
    assert "fail" not in statuses
    # nearly every metric is within what a perfect generator scores at these sizes
    beyond = [c for c in same_truth["checks"] if c["status"] in ("warn", "fail")]
    assert len(beyond) <= 2, beyond
    assert same_truth["summary"]["counts"]["fail"] == 0


def test_ks_pvalues_of_the_same_truth_are_uniform_ish(reference: EventTable, same_truth: dict) -> None:
    p = [_feature_pvalues(same_truth)]
    for seed in (3, 4):
        p.append(_feature_pvalues(validate(reference, make_zmumu(N, seed), None,
            ValidationSettings(seed=seed, repeats=2, classifier=False), quiet=True)))
    p = np.concatenate(p)
    assert len(p) == 3 * 24
    # discrete features make KS conservative (p too large), never too small
    assert np.mean(p < 0.05) < 0.15
    assert np.mean(p < 0.5) > 0.25
    assert np.median(p) > 0.25 and p.min() > 1e-4


def test_shifted_truth_is_detected_by_auc_w1_and_the_right_ks(reference: EventTable,
                                                             same_truth: dict) -> None:
    shifted = validate(reference, make_zmumu(N, 2, met_scale=1.1), None,
        ValidationSettings(seed=1, repeats=6), quiet=True)
    clf = shifted["classifier"]
    assert clf["significance"] > 5 and clf["auc"] > same_truth["classifier"]["auc"] + 0.01
    ks = {k.split("/", 1)[1]: m["ks_pvalue"] for k, m in shifted["metrics"].items()
          if k.startswith(("feature/", "observable/"))}
    assert ks["met"] < 1e-6 and min(ks["met_x"], ks["met_y"]) < 1e-2
    untouched = ["mu0_px", "mu0_pz", "mu0_e", "mu1_e", "nvtx", "iso0", "jet1_pt", "mll", "njet15"]
    assert min(ks[n] for n in untouched) > 1e-3
    w1 = shifted["metrics"]["observable/met"]["w1"]
    mean_met = shifted["metrics"]["observable/met"]["mean_ref"]
    assert w1 == pytest.approx(0.1 * mean_met, rel=0.3)  # a 10 % scale moves the mean by 10 %
    assert w1 > 3 * same_truth["metrics"]["observable/met"]["w1"]
    w1_check = next(c for c in shifted["checks"]
                    if c["key"] == "observable/met" and c["metric"] == "w1_norm")
    assert w1_check["value"] > w1_check["noise"]
    # the MET slices in nvtx see it too
    assert shifted["metrics"]["conditional/nvtx/0/met"]["ks_pvalue"] < 1e-3


def test_muon_scale_fails_the_mass(reference: EventTable) -> None:
    res = validate(reference, make_zmumu(N, 2, muon_scale=1.01), None,
        ValidationSettings(seed=0, repeats=4, classifier=False), quiet=True)
    mll = {c["metric"]: c["status"] for c in res["checks"] if c["key"] == "observable/mll"}
    assert mll["ks_stat"] == "fail" and mll["w1_norm"] == "fail"
    assert "observable/mll:ks_stat" in res["summary"]["failed"]


def test_same_seed_same_numbers(reference: EventTable) -> None:
    gen = make_zmumu(3000, 9)
    a = validate(reference, gen, None,
        ValidationSettings(max_events=3000, seed=7, repeats=3), quiet=True)
    b = validate(reference, gen, None,
        ValidationSettings(max_events=3000, seed=7, repeats=3), quiet=True)
    assert a == b
    assert a["samples"]["reference"]["n_used"] == 3000 and a["samples"]["reference"]["n_events"] == N
    c = validate(reference, gen, None,
        ValidationSettings(max_events=3000, seed=8, repeats=3), quiet=True)
    assert c["metrics"] != a["metrics"]


def test_analysis_frame_generated_table(reference: EventTable) -> None:
    res = validate(reference, make_zmumu(5000, 3, analysis_frame=True), None,
        ValidationSettings(repeats=3, classifier=False), quiet=True)
    assert "mu1_py" not in res["settings"]["features"]
    assert any("reference was rotated" in n for n in res["settings"]["notes"])
    assert res["summary"]["counts"]["fail"] == 0
    assert res["metrics"]["feature/mu0_px"]["ks_pvalue"] > 1e-3  # compared in one frame


def test_features_option_and_member_column(reference: EventTable) -> None:
    gen = make_zmumu(4000, 5)
    gen.data["member"] = np.arange(len(gen)) % 4
    res = validate(reference, gen, None,
        ValidationSettings(features=["met_x", "met_y", "nvtx"], repeats=2), quiet=True)
    assert res["settings"]["features"] == ["met_x", "met_y", "nvtx"]
    assert res["settings"]["observables"] == ["met"]  # only what the features allow
    assert list(res["slicings"]) == ["nvtx"] and res["slicings"]["nvtx"]["targets"] == ["met"]
    assert res["classifier"]["features"] == ["met_x", "met_y", "nvtx", "met"]
    full = validate(reference.select(["met_x", "met_y"]), gen, None,
        ValidationSettings(repeats=2, classifier=False), quiet=True)
    assert "member" not in full["settings"]["features"]
    assert any("4 ensemble members" in n for n in full["settings"]["notes"])


def test_electron_tables_nan_columns_and_efficiency() -> None:
    ref, gen = simulate_electrons(20_000, 1), simulate_electrons(20_000, 2)
    res = validate(ref, gen, None, ValidationSettings(repeats=3), quiet=True)
    pt = res["metrics"]["feature/pt"]
    assert pt["n_ref"] == np.count_nonzero(ref["detected"])  # metrics on detected rows
    assert pt["finite_diff"] < 0.02 and "finite_diff" not in res["metrics"]["feature/gen_pt"]
    assert res["quantities"]["pt"]["nullable"] and "pt_response" in res["settings"]["observables"]
    assert set(res["slicings"]) == {"gen_pt", "abs_gen_eta"}
    eta_bins = res["slicings"]["abs_gen_eta"]["labels"]
    assert eta_bins == ["|gen_eta| < 0.5", "0.5 <= |gen_eta| < 1.5", "|gen_eta| >= 1.5"]
    eff = res["metrics"]["conditional/abs_gen_eta/2/efficiency"]
    assert eff["eff_ref"] == pytest.approx(0.83 * 0.95, abs=0.1)  # endcap, mostly 1 < pT < 100
    # Clopper-Pearson half-width: the binomial error sqrt(p (1 - p) / n) up to a few per cent here
    assert eff["eff_ref_err"] == pytest.approx(
        np.sqrt(eff["eff_ref"] * (1 - eff["eff_ref"]) / eff["n_ref"]), rel=0.03)
    assert res["summary"]["counts"]["fail"] == 0
    # a generator that loses 6 % of the detected electrons fails the efficiency in most slices
    worse = simulate_electrons(20_000, 3)
    lost = (worse["detected"] == 1) & (np.random.default_rng(0).random(20_000) < 0.06)
    worse.data["detected"] = np.where(lost, 0, worse["detected"]).astype(np.int8)
    for c in ("pt", "eta", "phi"):
        worse.data[c] = np.where(lost, np.nan, worse[c])
    bad = validate(ref, worse, None, ValidationSettings(repeats=3, classifier=False), quiet=True)
    eff_checks = [c for c in bad["checks"] if c["metric"] == "efficiency_diff"]
    assert len(eff_checks) == 7 and sum(c["status"] == "fail" for c in eff_checks) >= 5


def test_other_tables_and_user_errors(tmp_path) -> None:
    ring, camel = simulate_toy("ring", 3000, 1), simulate_toy("camelback", 3000, 2)
    res = validate(ring, simulate_toy("ring", 3000, 3), None,
        ValidationSettings(repeats=2), quiet=True)
    assert res["settings"]["features"] == ["x", "y"] and res["settings"]["observables"] == []
    with pytest.raises(FlashgenError, match="no column in common"):
        validate(ring, EventTable({"z": np.zeros(10)}))
    with pytest.raises(FlashgenError, match="not in both tables: y"):
        validate(ring, camel, None, ValidationSettings(features=["x", "y"]))
    with pytest.raises(FlashgenError, match="repeats"):
        validate(ring, camel, None, ValidationSettings(repeats=1))
    target = tmp_path / "a_file"
    target.write_text("keep me")
    with pytest.raises(FlashgenError, match="not a directory"):
        validate(ring, camel, target)
    assert target.read_text() == "keep me"
    text = EventTable({"x": np.zeros(10), "label": np.array(["a"] * 10)},
                      {"x": Column("x", "GeV")})
    res = validate(text, text, None, ValidationSettings(repeats=2, classifier=False), quiet=True)
    assert res["settings"]["features"] == ["x"]
    assert any("'label' is not numeric" in n for n in res["settings"]["notes"])
