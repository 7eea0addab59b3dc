"""Generator-level content of the Z→μμ reference, ``--keep-unselected``, ``--level gen`` and the
``zmumu-flash`` preset's preprocessing (matched muons, residuals) and per-event quantities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from flashgen.cli.main import main
from flashgen.data import read_table
from flashgen.errors import FlashgenError
from flashgen.executor import Workers
from flashgen.sources.zmumu import ZmumuOptions, simulate_zmumu
from flashgen.sources.zmumu.schema import GEN_LEVEL_COLUMNS, GEN_ONLY_COLUMNS, ZMUMU_COLUMNS
from flashgen.sources.zmumu.flash import PRESET, flash_summary, gen_mll, mu_response
from flashgen.transforms import AbsoluteValue, MatchedObjects, Pipeline, Residual


def assert_user_error(capsys: Any, *argv: object, match: str) -> None:
    """``flashgen *argv`` exits 2 with one line ``flashgen: error: …match…``."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = int(stop.code or 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("flashgen: error:") and match in err[0], err

RUN: dict[str, Any] = {"n_events": 300, "seed": 21, "pileup": 0.0, "shard_size": 150}



def sim(out, n_events: int, seed: int, workers: int = 1, quiet: bool = True, **options):  # type: ignore[no-untyped-def]
    """``simulate_zmumu`` with the options as keywords (the tests' runs are dicts)."""
    return simulate_zmumu(n_events, seed, out, options=ZmumuOptions(**options), workers=Workers(workers), quiet=quiet)

@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 300 generated events three ways: selected only, all kept, generator level."""
    root = tmp_path_factory.mktemp("flash")
    sim(root / "sel", **RUN)
    sim(root / "all", keep_unselected=True, **RUN)
    sim(root / "gen", level="gen", **{**RUN, "pileup": 20.0})
    return {k: root / k for k in ("sel", "all", "gen")}


def test_keep_unselected_holds_every_event_and_the_selected_ones_unchanged(runs) -> None:
    sel, every = read_table(runs["sel"]), read_table(runs["all"])
    assert sel.names == [c.name for c in ZMUMU_COLUMNS + GEN_LEVEL_COLUMNS]
    assert every.names == sel.names + ["selected"]
    assert len(every) == 300 and set(np.unique(every["selected"])) == {0.0, 1.0}
    kept = every["selected"] == 1
    assert kept.sum() == len(sel)
    for name in sel.names:  # the selected events, value for value, in the same order
        np.testing.assert_array_equal(every[name][kept], sel[name])
    for name in ("mu0_px", "nvtx", "jet1_pt", "iso0", "gen_mu0_px"):
        assert np.isnan(every[name][~kept]).all()
    for c in GEN_ONLY_COLUMNS:  # defined for every event
        assert np.isfinite(every[c.name]).all(), c.name
    assert every.meta["events_selected"] + 0 == pytest.approx(kept.sum(), abs=150)


def test_gen_level_matches_the_full_chain_and_the_muons(runs) -> None:
    every, gen = read_table(runs["all"]), read_table(runs["gen"])
    assert gen.names == [c.name for c in GEN_ONLY_COLUMNS] and len(gen) == 300
    for c in GEN_LEVEL_COLUMNS:  # the same PYTHIA events: the same generator level
        np.testing.assert_array_equal(gen[c.name], every[c.name])
    # n_pileup is drawn Poisson(20) without simulating the interactions
    assert 18 < gen["n_pileup"].mean() < 22 and not np.any(every["n_pileup"])
    assert (gen["genmu0_pt"] >= gen["genmu1_pt"]).all()
    assert (gen["genmu0_charge"] * gen["genmu1_charge"] == -1).all()
    # a Z decay: the generator-level pair mass sits at the Z (FSR pulls a tail below)
    assert 88 < np.median(gen_mll(gen)) < 93
    # jets: counted above 10 GeV, the stored ones sorted and zero-padded
    pts = np.stack([gen[f"genjet{i}_pt"] for i in range(1, 6)], axis=1)
    assert (np.diff(pts, axis=1) <= 0).all()
    np.testing.assert_array_equal(np.minimum(gen["ngenjet"], 5), (pts > 10).sum(axis=1))
    assert ((pts == 0) | (pts > 10)).all()
    # the reconstructed muons are the true muons with scaled momenta: same direction exactly
    sel = every.take(every["selected"] == 1)
    r0, r1 = mu_response(sel, 0), mu_response(sel, 1)
    assert np.all(np.abs(r0) < 0.3) and np.all(np.abs(r1) < 0.3)
    assert 0.005 < np.std(r0) < 0.05


def test_flash_summary_of_the_reference(runs) -> None:
    s = flash_summary(read_table(runs["all"]))
    eff = s["efficiency"]
    assert eff["events"] == 300 and 0.25 < eff["value"] < 0.6
    assert eff["error"] == pytest.approx(np.sqrt(eff["value"] * (1 - eff["value"]) / 300))
    assert sum(s["efficiency_vs_gen_ptll"]["events"]) == 300
    assert all(0.005 < w < 0.05 for w in s["mu_resolution"]["value"] if np.isfinite(w))


def test_level_and_selection_options_are_checked(tmp_path, capsys) -> None:
    with pytest.raises(FlashgenError, match="level"):
        sim(tmp_path / "a", 10, 0, level="detector")
    with pytest.raises(FlashgenError, match="keep-unselected"):
        sim(tmp_path / "b", 10, 0, level="gen", keep_unselected=True)
    assert_user_error(capsys, "simulate", "zmumu", "--level", "gen", "--keep-unselected",
                      "--out", tmp_path / "c", match="keep-unselected")
    assert_user_error(capsys, "simulate", "zmumu", "--level", "gen", "--format", "nanoaod",
                      "--out", tmp_path / "d", match="nanoaod")
    assert main(["simulate", "zmumu", "--level", "gen", "--events", "40", "--shard-size", "20",
                 "--out", str(tmp_path / "e"), "-q"]) == 0
    assert len(read_table(tmp_path / "e")) == 40


def _muons(n: int, seed: int) -> dict[str, torch.Tensor]:
    """True muons and reconstructed ones (same direction, pT scaled by 1 +- 5 %), reco sorted."""
    g = torch.Generator().manual_seed(seed)
    cols: dict[str, torch.Tensor] = {}
    true_pt = 30 + 20 * torch.rand(n, 2, generator=g, dtype=torch.float64)
    true_pt = torch.sort(true_pt, dim=1, descending=True).values
    eta = 4 * torch.rand(n, 2, generator=g, dtype=torch.float64) - 2
    phi = 2 * np.pi * torch.rand(n, 2, generator=g, dtype=torch.float64) - np.pi
    reco_pt = true_pt * (1 + 0.05 * torch.randn(n, 2, generator=g, dtype=torch.float64))
    for k in (0, 1):
        cols[f"genmu{k}_pt"], cols[f"genmu{k}_eta"], cols[f"genmu{k}_phi"] = true_pt[:, k], eta[:, k], phi[:, k]
    order = torch.argsort(reco_pt, dim=1, descending=True)
    for k in (0, 1):
        i = order[:, k]
        pt, e, p = reco_pt.gather(1, i[:, None])[:, 0], eta.gather(1, i[:, None])[:, 0], phi.gather(1, i[:, None])[:, 0]
        cols[f"mu{k}_px"], cols[f"mu{k}_py"], cols[f"mu{k}_pz"] = pt * torch.cos(p), pt * torch.sin(p), pt * torch.sinh(e)
    return cols


def test_matched_objects_undo_the_reconstruction_order() -> None:
    cols = _muons(5000, 1)
    step = MatchedObjects([["mu0_px", "mu0_py", "mu0_pz"], ["mu1_px", "mu1_py", "mu1_pz"]],
                          [[f"genmu{k}_{v}" for v in ("pt", "eta", "phi")] for k in (0, 1)], ["rmu0", "rmu1"])
    step.fit(cols)
    out = step.forward(cols)
    # each matched muon has its true muon's direction, and the response is the smearing alone
    for k in (0, 1):
        torch.testing.assert_close(out[f"rmu{k}_eta"], cols[f"genmu{k}_eta"])
        resp = out[f"rmu{k}_pt"] / cols[f"genmu{k}_pt"] - 1
        assert abs(float(resp.std()) - 0.05) < 0.003
    # the reconstruction swapped some (close pT): undone forward, redone by the inverse
    swapped = cols["mu0_px"] != out["rmu0_pt"] * torch.cos(out["rmu0_phi"])
    assert 0.01 < float(swapped.double().mean()) < 0.3
    back = step.inverse(out)
    for name in ("mu0_px", "mu0_py", "mu0_pz", "mu1_px", "mu1_py", "mu1_pz"):
        torch.testing.assert_close(back[name], cols[name])


def test_angle_residual_wraps_and_constant_residuals_are_restored() -> None:
    ref = torch.tensor([3.1, -3.1, 0.0, 1.0], dtype=torch.float64)
    x = torch.tensor([-3.1, 3.1, 0.1, 1.0], dtype=torch.float64)
    step = Residual("x", "ref", mode="angle")
    step.fit({"x": x, "ref": ref})
    y = step.forward({"x": x, "ref": ref})["x"]
    torch.testing.assert_close(y, torch.tensor([2 * np.pi - 6.2, 6.2 - 2 * np.pi, 0.1, 0.0], dtype=torch.float64))
    back = step.inverse({"x": y, "ref": ref})["x"]
    torch.testing.assert_close(torch.remainder(back - x + np.pi, 2 * np.pi) - np.pi, torch.zeros(4, dtype=torch.float64))


def test_flash_preprocessing_round_trips_reference_events(runs) -> None:
    every = read_table(runs["all"])
    sel = every.take(every["selected"] == 1)
    cols = {n: torch.tensor(np.asarray(sel[n], dtype=np.float64)) for n in PRESET.features + PRESET.conditions}
    pipe = Pipeline(list(PRESET.features), PRESET.feature_steps(), list(PRESET.conditions))
    z = pipe.fit(cols, torch.Generator().manual_seed(0))
    # muon eta and phi residuals are exactly 0 in this detector: dropped, not modelled
    assert z.shape[1] == 18 - 2 - 4  # 18 columns less 2 on-shell energies and 4 constant angles
    back = pipe.inverse(z, {c: cols[c] for c in PRESET.conditions}, torch.Generator().manual_seed(1))
    for name in PRESET.features:
        torch.testing.assert_close(back[name].double(), cols[name], rtol=1e-5, atol=1e-4, msg=name)


def test_jet_log_ratio_with_offset_round_trips() -> None:
    jet = torch.tensor([0.0, 12.0, 40.0, 7.5], dtype=torch.float64)
    gen = torch.tensor([0.0, 0.0, 38.0, 15.0], dtype=torch.float64)
    step = Residual("jet", "gen", mode="log-ratio", offset=5.0)
    step.fit({"jet": jet, "gen": gen})
    y = step.forward({"jet": jet, "gen": gen})["jet"]
    torch.testing.assert_close(y, torch.log((jet + 5) / (gen + 5)))
    torch.testing.assert_close(step.inverse({"jet": y, "gen": gen})["jet"], jet)


def test_flash_preset_needs_the_unselected_events(runs, tmp_path, capsys) -> None:
    assert_user_error(capsys, "train", "--data", runs["sel"], "--model", "flow", "--preset", "zmumu-flash",
                      "--steps", 5, "--out", tmp_path / "f.pt", match="--keep-unselected")
    assert not (tmp_path / "f.pt").exists()


def test_flash_chain_from_the_command_line(runs, tmp_path) -> None:
    """simulate --keep-unselected -> train --preset zmumu-flash -> simulate --level gen ->
    generate --oversample 5: 2,000 generator-level events give 10,000 rows, seeded."""
    assert main(["train", "--data", str(runs["all"]), "--model", "flow", "--preset", "zmumu-flash",
                 "--steps", "30", "--out", str(tmp_path / "f.pt"), "-q"]) == 0
    assert main(["simulate", "zmumu", "--level", "gen", "--events", "2000", "--seed", "5",
                 "--shard-size", "1000", "--out", str(tmp_path / "gen"), "-q"]) == 0
    args = ["generate", "--model", str(tmp_path / "f.pt"), "--conditions", str(tmp_path / "gen"),
            "--oversample", "5", "--allow-extrapolation", "-q"]
    assert main([*args, "--out", str(tmp_path / "a.parquet")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.parquet")]) == 0
    a, b = read_table(tmp_path / "a.parquet"), read_table(tmp_path / "b.parquet")
    assert len(a) == 10_000 and a.names[-2:] == ["event", "copy"]
    np.testing.assert_array_equal(a["event"], np.repeat(np.arange(2000), 5))
    for name in a.names:
        np.testing.assert_array_equal(a[name], b[name])
    sel = a["selected"] == 1  # a 30-step efficiency classifier: only its 0/1 form is checked here
    assert set(np.unique(a["selected"])) <= {0, 1} and sel.sum() > 0
    assert np.isnan(a["mu0_px"][~sel]).all() and np.isfinite(a["mu0_px"][sel]).all()
    # reconstructed muons keep their true direction and stay sorted by pT
    pt0, pt1 = np.hypot(a["mu0_px"][sel], a["mu0_py"][sel]), np.hypot(a["mu1_px"][sel], a["mu1_py"][sel])
    assert (pt0 >= pt1).all()


def test_absolute_value_adds_a_column_and_its_inverse_drops_it() -> None:
    eta = torch.tensor([-2.1, 0.3, 1.7], dtype=torch.float64)
    step = AbsoluteValue("eta")
    step.fit({"eta": eta})
    out = step.forward({"eta": eta})
    torch.testing.assert_close(out["abs_eta"], eta.abs())
    assert step.inverse(out) == {"eta": eta}
