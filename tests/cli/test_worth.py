"""``flashgen worth`` and ensembles from the command line: JSON, pyhf, every user error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flashgen.data import EventTable, read_table, write_table

from .helpers import assert_user_error, run


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A camel-back ensemble of 4 members (30 steps) and 8,000 events generated from it."""
    from flashgen.cli.main import main

    d = tmp_path_factory.mktemp("worth")
    assert main(["simulate", "camelback", "--events", "400", "--seed", "3", "--out", str(d / "cb.parquet"), "-q"]) == 0
    assert main(["train", "--data", str(d / "cb.parquet"), "--model", "flow", "--preset", "camelback",
                 "--steps", "30", "--ensemble", "4", "--workers", "2", "--out", str(d / "ens.pt"), "-q"]) == 0
    assert main(["generate", "--model", str(d / "ens.pt"), "--events", "8000", "--seed", "1",
                 "--out", str(d / "g.parquet"), "-q"]) == 0
    return d


def test_worth_json_has_the_contracted_keys(generated: Path, capsys) -> None:
    code, out, _ = run(capsys, "worth", "--generated", generated / "g.parquet", "--observable", "x",
                       "--bins", "10", "--out", generated / "w.json")
    assert code == 0
    w = json.loads((generated / "w.json").read_text())
    for key in ("edges", "fraction", "sigma", "band_low", "band_high", "n_eff_bins", "n_eff", "amplification"):
        assert key in w
    assert len(w["edges"]) == 11 and len(w["fraction"]) == 10
    np.testing.assert_allclose(w["fraction"], 0.1, atol=0.002)  # equal-population bins
    assert w["train_events"] == 400 and w["members"] == 4 and w["resamples"] == 2
    assert w["amplification"] == pytest.approx(w["n_eff"] / 400)
    assert all(lo <= f <= hi for lo, f, hi in zip(w["band_low"], w["fraction"], w["band_high"]))
    assert out.startswith("8,000 generated events are worth ≈") and "(G = " in out
    # --train-events overrides what the table records
    run(capsys, "worth", "--generated", generated / "g.parquet", "--observable", "x", "--bins", "10",
        "--train-events", "800", "--out", generated / "w2.json")
    w2 = json.loads((generated / "w2.json").read_text())
    assert w2["amplification"] == pytest.approx(w["amplification"] / 2)


def test_pyhf_sample_drops_into_a_histfactory_fit(generated: Path, capsys) -> None:
    pyhf = pytest.importorskip("pyhf")
    code, _, _ = run(capsys, "worth", "--generated", generated / "g.parquet", "--observable", "x",
                     "--edges=-1000,-4,0,4,1000", "--pyhf", "--pyhf-events", "500", "--name", "signal",
                     "--out", generated / "s.json")
    assert code == 0
    sample = json.loads((generated / "s.json").read_text())
    assert sample["name"] == "signal" and len(sample["data"]) == 4
    assert sum(sample["data"]) == pytest.approx(500, rel=0.02)
    spec = {"channels": [{"name": "x", "samples": [sample]}]}
    model = pyhf.Model(spec, poi_name="mu_signal")
    observed = [round(v * 1.2) for v in sample["data"]]
    best = pyhf.infer.mle.fit(observed + model.config.auxdata, model)
    mu = best[model.config.poi_index]
    assert mu == pytest.approx(1.2, abs=0.15)
    assert "inherited_signal" in model.config.parameters


@pytest.fixture(scope="module")
def smoothed(tmp_path_factory) -> Path:
    """An ensemble without training: 400 camel-back training events; member m (8 of them, 1,000
    events each) samples bootstrap resample m // 2 smeared by N(0, 0.4), a kernel density estimate
    (a smooth model); the training size and groups are recorded as flashgen generate does."""
    rng = np.random.default_rng(1)
    n_train, members, per_member = 400, 8, 1000
    train = np.where(rng.random(n_train) < 0.5, -4.0, 4.0) + rng.normal(size=n_train)
    xs, ms = [], []
    for m in range(members):
        boot = train[np.random.default_rng([1, 1, m // 2]).integers(0, n_train, n_train)]
        r = np.random.default_rng([1, 2, m])
        xs.append(boot[r.integers(0, n_train, per_member)] + 0.4 * r.normal(size=per_member))
        ms.append(np.full(per_member, m, dtype=np.int16))
    meta = {"model": {"ensemble": {"train_events": n_train, "groups": [k // 2 for k in range(members)]}}}
    path = tmp_path_factory.mktemp("smoothed") / "kde.parquet"
    write_table(EventTable({"x": np.concatenate(xs), "member": np.concatenate(ms)}, meta=meta), path)
    return path


def test_worth_names_its_binning_and_warns_where_the_bins_are_sparse(smoothed: Path, tmp_path: Path,
                                                                      capsys) -> None:
    """400 training events: 20 equal-population bins hold 20 each (no warning); with 200 training
    events 50 bins hold 4 each, fewer than 5 and than the 8 members, and G there is flagged as not
    reliable; 5,000 bins are beyond the calibrated binning and G is not stated at all."""
    code, out, err = run(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "20",
                         "--out", tmp_path / "r20.json")
    assert code == 0 and err == ""
    w = json.loads((tmp_path / "r20.json").read_text())
    b = w["binning"]
    assert (b["bins"], b["chosen"], b["low"], b["high"]) == (20, "equal-population", w["edges"][0], w["edges"][-1])
    assert b["text"].startswith("20 equal-population bins of x in [") and b["text"] in out
    assert out.startswith("8,000 generated events are worth ≈") and " at 20 equal-population bins of x in [" in out
    assert out.strip().endswith(f"[8 members]; wrote {tmp_path / 'r20.json'}")
    assert w["train_events"] == 400 and w["amplification"] == pytest.approx(2.36, abs=0.01)
    assert w["sparse_bins"] == 0 and w["empty_bins"] == 0 and w["reliable"] is True and w["withheld"] is None
    assert w["mean_training_events_per_bin"] == pytest.approx(20)
    assert w["min_training_events_per_bin"] == pytest.approx(20)
    # one binning: the curve holds it, with the top-level numbers
    assert len(w["curve"]) == 1 and w["curve"][0]["n_eff"] == w["n_eff"]
    assert w["curve"][0]["amplification"] == w["amplification"] and w["curve"][0]["text"] == b["text"]

    code, out, err = run(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "50",
                         "--train-events", "200", "--out", tmp_path / "r50.json")
    assert code == 0
    sparse = json.loads((tmp_path / "r50.json").read_text())
    assert sparse["reliable"] is False and sparse["withheld"] is None and sparse["amplification"] > 0
    assert sparse["sparse_bins"] == 50 and sparse["mean_training_events_per_bin"] == pytest.approx(4)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flashgen: warning: at 50 equal-population bins of x in [")
    assert "4 training events on average (fewer than 5)" in lines[0]
    assert "50 of 50 populated bins hold fewer training events than the ensemble's 8 members" in lines[0]
    assert f"G = {sparse['amplification']:.2g} there is not reliable" in lines[0]
    # --quiet keeps the warning
    code, out, err = run(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "50", "-q",
                         "--train-events", "200", "--out", tmp_path / "r50.json", "--force")
    assert code == 0 and out == "" and err.startswith("flashgen: warning: at 50 equal-population bins")

    code, out, err = run(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "5000",
                         "--out", tmp_path / "r5000.json")
    assert code == 0 and err == ""
    fine = json.loads((tmp_path / "r5000.json").read_text())
    reason = ("5,000 bins are finer than the calibrated range (at most 50 bins, benchmarks/results/worth.md): "
              "there the members share an error the ensemble cannot see")
    assert fine["binning"]["bins"] == 5000 and fine["reliable"] is False and fine["withheld"] == reason
    assert fine["amplification"] is None and fine["n_eff"] is None
    assert len(fine["sigma"]) == 5000 and fine["curve"][0]["withheld"] == reason
    assert fine["curve"][0]["amplification"] is None and fine["curve"][0]["n_eff"] is None
    # the sparsity is still recorded: 8,000 generated events in 5,000 bins, 0.05 or 0.1 training events each
    assert fine["sparse_bins"] == 5000 and fine["mean_training_events_per_bin"] == pytest.approx(0.08)
    assert fine["min_training_events_per_bin"] == pytest.approx(0.05)
    text = fine["binning"]["text"]
    assert out.strip() == (f"8,000 generated events in x: G not stated at {text} [8 members]: {reason}; "
                           f"wrote {tmp_path / 'r5000.json'}")


def test_worth_as_a_curve_over_resolutions(smoothed: Path, tmp_path: Path, capsys) -> None:
    """--bins 5,20,100,5000 on the smoothed camel back: G at 5 and 20 bins (1.8, 2.4); 100 and
    5,000 bins are finer than the calibrated 50, so their lines say G is not stated, and why."""
    code, out, err = run(capsys, "worth", "--generated", smoothed, "--observable", "x",
                         "--bins", "5,20,100,5000", "--out", tmp_path / "curve.json")
    assert code == 0 and err == ""
    w = json.loads((tmp_path / "curve.json").read_text())
    curve = w["curve"]
    assert [c["bins"] for c in curve] == [5, 20, 100, 5000]
    assert [c["amplification"] for c in curve[:2]] == pytest.approx([1.80, 2.36], abs=0.01)
    assert [c["amplification"] for c in curve[2:]] == [None, None] and [c["n_eff"] for c in curve[2:]] == [None, None]
    assert [c["withheld"] is None for c in curve] == [True, True, False, False]
    assert [c["reliable"] for c in curve] == [True, True, False, False]
    assert [c["sparse_bins"] for c in curve] == [0, 0, 100, 5000]
    assert [c["mean_training_events_per_bin"] for c in curve] == pytest.approx([80, 20, 4, 0.08])
    for c in curve[:2]:
        assert c["n_eff"] == pytest.approx(c["amplification"] * 400) and c["chosen"] == "equal-population"
    # the top-level keys are the first binning's, as with one number
    assert len(w["edges"]) == 6 and w["binning"]["bins"] == 5 and w["amplification"] == curve[0]["amplification"]
    assert w["reliable"] is True and w["sparse_bins"] == 0 and w["withheld"] is None
    lines = out.strip().splitlines()
    assert len(lines) == 5 and lines[-1] == f"wrote {tmp_path / 'curve.json'} (G at 4 resolutions, key 'curve')"
    for line, k, g in zip(lines, ("5", "20"), ("1.8", "2.4")):
        assert line.startswith("8,000 generated events are worth ≈") and f"(G = {g} over 400 training" in line
        assert f" at {k} equal-population bins of x in [" in line and line.endswith("[8 members]")
    for line, c in zip(lines[2:4], curve[2:]):
        assert line == f"8,000 generated events in x: G not stated at {c['text']} [8 members]: {c['withheld']}"
    assert curve[2]["withheld"].startswith("100 bins are finer than the calibrated range (at most 50 bins")


def test_the_help_states_the_calibrated_binning(capsys) -> None:
    from flashgen.stats.histogram_worth import CALIBRATED_BINS

    code, out, _ = run(capsys, "worth", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert f"stated at up to {CALIBRATED_BINS} bins, the calibrated range" in flat
    assert f"G is stated up to {CALIBRATED_BINS} bins" in flat


def test_worth_at_given_edges_names_them(smoothed: Path, tmp_path: Path, capsys) -> None:
    """Given edges with an empty bin (beyond every event) and a narrow one expected to hold
    fewer training events than the 8 members: one warning, for that bin."""
    code, out, err = run(capsys, "worth", "--generated", smoothed, "--observable", "x",
                         "--edges=-20,-4,0,4,4.01,20,30", "--out", tmp_path / "e.json")
    assert code == 0
    w = json.loads((tmp_path / "e.json").read_text())
    assert w["binning"] == {"bins": 6, "low": -20.0, "high": 30.0, "unit": "", "chosen": "edges",
                            "text": "6 bins of x in [-20, 30] (given edges)"}
    assert "at 6 bins of x in [-20, 30] (given edges) [8 members]" in out
    assert w["fraction"][-1] == 0 and w["empty_bins"] == 1 and w["sparse_bins"] == 1 and w["reliable"] is False
    assert w["min_training_events_per_bin"] == pytest.approx(400 * w["fraction"][3])
    assert w["min_training_events_per_bin"] < 8
    assert w["mean_training_events_per_bin"] == pytest.approx(400 / 6, rel=0.01)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flashgen: warning: at 6 bins of x in [-20, 30] (given edges), ")
    assert "1 of 5 populated bins holds fewer training events than the ensemble's 8 members" in lines[0]


def test_the_member_column_must_be_integer_valued(smoothed: Path, tmp_path: Path, capsys) -> None:
    t = read_table(smoothed)
    t.data["member"] = t["member"].astype(np.float64)  # whole numbers in a float column: read as integers
    write_table(t, tmp_path / "whole.parquet")
    for name, path in (("a", smoothed), ("b", tmp_path / "whole.parquet")):
        assert run(capsys, "worth", "--generated", path, "--observable", "x", "--bins", "10",
                   "--out", tmp_path / f"{name}.json")[0] == 0
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["n_eff"] == b["n_eff"] and a["members"] == b["members"] == 8
    t.data["member"] = t["member"] + 0.5
    write_table(t, tmp_path / "float.parquet")
    assert_user_error(capsys, "worth", "--generated", tmp_path / "float.parquet", "--observable", "x",
                      "--out", tmp_path / "f.json", match="the 'member' column must hold integers")
    assert_user_error(capsys, "worth", "--generated", tmp_path / "float.parquet", "--observable", "x",
                      "--out", tmp_path / "f.json", match="float64 values such as 0.5")


def test_bad_binnings(smoothed: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "w.json"
    assert_user_error(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "20,,50",
                      "--out", out, match="bins must be positive integers separated by commas")
    assert_user_error(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "20,0",
                      "--out", out, match="'0' must be a positive integer")
    assert_user_error(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "20,1",
                      "--out", out, match="need at least 2 bins")
    assert_user_error(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "20,50", "--pyhf",
                      "--out", out, match="--pyhf writes one histogram")
    assert_user_error(capsys, "worth", "--generated", smoothed, "--observable", "x", "--bins", "20",
                      "--edges", "0,1", "--out", out, match="not allowed with argument")
    assert not out.exists()


def test_worth_of_a_derived_observable() -> None:
    from flashgen.stats.histogram_worth import observable_values

    n = 5
    cols = {"mu0_px": np.full(n, 40.0), "mu0_py": np.zeros(n), "mu0_pz": np.zeros(n), "mu0_e": np.full(n, 40.0),
            "mu1_px": np.full(n, -40.0), "mu1_pz": np.zeros(n), "mu1_e": np.full(n, 40.0)}
    values, unit = observable_values(EventTable(cols), "mll")
    # mu1_py follows from momentum balance in the transverse plane: back-to-back 40 GeV muons
    np.testing.assert_allclose(values, 80.0, rtol=1e-6)
    assert unit == "GeV"


def test_bad_requests(generated: Path, tmp_path: Path, capsys) -> None:
    g = generated / "g.parquet"
    out = tmp_path / "w.json"
    assert_user_error(capsys, "worth", "--generated", generated / "cb.parquet", "--observable", "x",
                      "--out", out, match="no 'member' column")
    single = read_table(g)
    single.data["member"] = np.zeros(len(single), dtype=np.int16)
    write_table(single, tmp_path / "single.parquet")
    assert_user_error(capsys, "worth", "--generated", tmp_path / "single.parquet", "--observable", "x",
                      "--out", out, match="an ensemble is needed for the inherited uncertainty")
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "mll", "--out", out,
                      match="observable 'mll' needs column(s)")
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "nope", "--out", out,
                      match="unknown observable 'nope'")
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "x", "--edges", "1,0,2",
                      "--out", out, match="strictly increasing")
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "x", "--edges", "1,a",
                      "--out", out, match="edges must be numbers")
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "x", "--out", g,
                      match="g.parquet")
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "x", "--pyhf",
                      "--pyhf-events", "-5", "--out", out, match="--pyhf-events must be a positive")
    assert_user_error(capsys, "worth", "--generated", tmp_path / "missing.parquet", "--observable", "x",
                      "--out", out, match="missing.parquet")
    assert not out.exists()
    model = tmp_path / "model.pt"  # a file of another kind is never replaced by the JSON
    model.write_bytes(b"weights")
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "x", "--out", model, match=".json")
    assert model.read_bytes() == b"weights"


def test_ensemble_training_errors(generated: Path, tmp_path: Path, capsys) -> None:
    base = ["train", "--data", generated / "cb.parquet", "--model", "flow", "--preset", "camelback", "--steps", "5"]
    assert_user_error(capsys, *base, "--ensemble", "3", "--out", tmp_path / "e.pt", match="at least 4 members")
    assert_user_error(capsys, *base, "--ensemble", "4", "--resume", "--out", tmp_path / "e.pt",
                      match="resumes by itself")
    assert_user_error(capsys, "generate", "--model", generated / "ens.pt", "--events", "10", "--format",
                      "nanoaod", "--out", tmp_path / "n.root", match="is an ensemble")
    from flashgen.models.flashmodel import FlashModel
    from flashgen.errors import FlashgenError

    with pytest.raises(FlashgenError, match="holds an ensemble of 4 models"):
        FlashModel.load(generated / "ens.pt")


def test_an_ensemble_generates_the_same_dataset_on_workers(generated: Path, tmp_path: Path) -> None:
    from flashgen.cli.main import main

    common = ["generate", "--model", str(generated / "ens.pt"), "--events", "5000", "--seed", "4",
              "--chunk-size", "700", "-q"]
    assert main([*common, "--out", str(tmp_path / "one.parquet")]) == 0
    assert main([*common, "--workers", "2", "--shard-chunks", "3", "--out", str(tmp_path / "d")]) == 0
    one, many = read_table(tmp_path / "one.parquet"), read_table(tmp_path / "d")
    assert np.array_equal(one["member"], many["member"]) and np.array_equal(one["x"], many["x"])
    assert np.bincount(one["member"]).tolist() == [1250] * 4


def _oversampled(tmp_path: Path, *, member: bool) -> Path:
    """3,000 generator-level events x 5 copies: each copy x = truth + 0.5 ε with the truth ~ N(0, 1)."""
    rng = np.random.default_rng(11)
    n, k = 3000, 5
    x = np.repeat(rng.normal(size=n), k) + 0.5 * rng.normal(size=n * k)
    data = {"x": x, "event": np.repeat(np.arange(n), k), "copy": np.tile(np.arange(k, dtype=np.int16), n)}
    if member:
        data["member"] = (data["event"] % 4).astype(np.int16)
    path = tmp_path / ("m.parquet" if member else "g.parquet")
    write_table(EventTable(data), path)
    return path


def test_worth_of_an_oversampled_sample_without_an_ensemble(tmp_path: Path, capsys) -> None:
    """The copies share the truth (σ 1) and differ by σ 0.5: a copy's bin is predictable from its
    event, so 5 copies are worth ~2.8 simulated events each in 10 equal-population bins (2.8
    measured; 1 for identical copies, 5 for independent ones)."""
    g = _oversampled(tmp_path, member=False)
    code, out, _ = run(capsys, "worth", "--generated", g, "--observable", "x", "--bins", "10",
                       "--out", tmp_path / "w.json")
    assert code == 0
    w = json.loads((tmp_path / "w.json").read_text())
    over = w["oversampling"]
    assert (over["events"], over["copies"], over["rows"]) == (3000, 5, 15_000) and w["inherited"] is None
    assert 2.3 < over["gain"] < 3.3 and over["equivalent_events"] == pytest.approx(3000 * over["gain"])
    assert over["error_ratio"] == pytest.approx(over["gain"] ** -0.5)
    assert over["naive_error_ratio"] == pytest.approx(5**-0.5)
    assert len(w["edges"]) == 11 and "ensemble" in w["note"]
    lines = out.strip().splitlines()
    assert lines[0].startswith("the 15,000 rows are 3,000 generator-level events × 5 copies: statistically worth ≈")
    assert "not 1/√5 = 0.45" in lines[0] and "train --ensemble M" in lines[1]
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "x", "--pyhf", "--out", tmp_path / "p.json",
                      match="needs an ensemble")
    assert w["binning"]["text"].startswith("10 equal-population bins of x in [") and w["binning"]["text"] in lines[0]
    assert_user_error(capsys, "worth", "--generated", g, "--observable", "x", "--bins", "10,20",
                      "--out", tmp_path / "c.json", match="a curve of G over several --bins needs an ensemble")
    t = read_table(g)
    t.data["event"] = t["event"] + 0.5
    write_table(t, tmp_path / "f.parquet")
    assert_user_error(capsys, "worth", "--generated", tmp_path / "f.parquet", "--observable", "x",
                      "--out", tmp_path / "f.json", match="'event' column must hold integers")


def test_worth_of_an_oversampled_ensemble_sample(tmp_path: Path, capsys) -> None:
    m = _oversampled(tmp_path, member=True)
    code, out, _ = run(capsys, "worth", "--generated", m, "--observable", "x", "--bins", "10",
                       "--train-events", "1000", "--out", tmp_path / "m.json")
    assert code == 0
    both = json.loads((tmp_path / "m.json").read_text())
    assert both["members"] == 4 and both["n_eff"] > 0 and both["amplification"] == pytest.approx(both["n_eff"] / 1000)
    assert both["oversampling"]["copies"] == 5 and 2.3 < both["oversampling"]["gain"] < 3.3
    assert "generated events are worth" in out and "generator-level events × 5 copies" in out
