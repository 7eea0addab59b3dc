"""Invertible preprocessing: exact round trips, unbiased dequantisation, physical outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from flashgen.errors import FlashgenError
from flashgen.sources.zmumu.physics import MUON_MASS
from flashgen.transforms import (Asinh, AzimuthalRotation, DimuonMass, DimuonMassInAcceptance, Logit, Dequantize, Log,
                                 Multiplicity, OnShellEnergy,
                                 Pipeline, Reflection, Residual, SortDescending, Transform, ZeroPadding)


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


@pytest.fixture
def muons(rng: np.random.Generator) -> dict[str, torch.Tensor]:
    n = 2000
    cols = {}
    for m in ("mu0", "mu1"):
        px, py, pz = rng.normal(0, 30, (3, n))
        cols |= {f"{m}_px": _t(px), f"{m}_py": _t(py), f"{m}_pz": _t(pz),
                 f"{m}_e": _t(np.sqrt(px**2 + py**2 + pz**2 + MUON_MASS**2))}
    cols |= {"met_x": _t(rng.normal(0, 20, n)), "met_y": _t(rng.normal(0, 20, n))}
    return cols


def _roundtrip(step: Transform, cols: dict[str, torch.Tensor], seed: int = 1) -> dict[str, torch.Tensor]:
    step.fit(dict(cols))
    g = torch.Generator().manual_seed(seed)
    return step.inverse(step.forward(dict(cols), g), g)


def test_on_shell_energy_is_dropped_and_rebuilt_exactly(muons):
    step = OnShellEnergy("mu0_px", "mu0_py", "mu0_pz", "mu0_e", MUON_MASS)
    step.fit(muons)
    fwd = step.forward(muons)
    assert "mu0_e" not in fwd
    back = step.inverse(fwd)
    torch.testing.assert_close(back["mu0_e"], muons["mu0_e"], rtol=1e-12, atol=0)


def test_on_shell_energy_refuses_off_shell_data(muons):
    bad = dict(muons, mu0_e=muons["mu0_e"] * 1.01)
    with pytest.raises(FlashgenError, match="mass shell"):
        OnShellEnergy("mu0_px", "mu0_py", "mu0_pz", "mu0_e", MUON_MASS).fit(bad)


def test_rotation_sets_reference_py_to_zero_and_preserves_invariants(muons):
    step = AzimuthalRotation([["mu0_px", "mu0_py"], ["met_x", "met_y"]], ["mu1_px", "mu1_py"])
    step.fit(muons)
    fwd = step.forward(muons)
    assert "mu1_py" not in fwd
    assert bool((fwd["mu1_px"] >= 0).all())
    torch.testing.assert_close(fwd["mu1_px"], torch.hypot(muons["mu1_px"], muons["mu1_py"]))
    # the rotation preserves lengths and relative angles
    torch.testing.assert_close(torch.hypot(fwd["met_x"], fwd["met_y"]), torch.hypot(muons["met_x"], muons["met_y"]))
    dot = muons["mu0_px"] * muons["mu1_px"] + muons["mu0_py"] * muons["mu1_py"]
    torch.testing.assert_close(fwd["mu0_px"] * fwd["mu1_px"], dot)
    # the inverse draws a uniform azimuth and keeps every invariant
    back = step.inverse(fwd, torch.Generator().manual_seed(3))
    torch.testing.assert_close(torch.hypot(back["met_x"], back["met_y"]), torch.hypot(muons["met_x"], muons["met_y"]))
    dot_back = back["mu0_px"] * back["mu1_px"] + back["mu0_py"] * back["mu1_py"]
    torch.testing.assert_close(dot_back, dot)
    phi = torch.atan2(back["mu1_py"], back["mu1_px"]).numpy()
    counts, _ = np.histogram(phi, bins=8, range=(-math.pi, math.pi))
    assert counts.min() > 0.8 * len(phi) / 8  # isotropic


def test_log_round_trip_and_lower_bound():
    x = _t([0.0, 0.5, 3.0, 100.0])
    step = Log("iso", offset=0.01)
    back = _roundtrip(step, {"iso": x})
    torch.testing.assert_close(back["iso"], x)
    clipped = step.inverse({"iso": torch.log(_t([0.001]))})  # below -offset + 0 in physical units
    assert float(clipped["iso"][0]) == 0.0
    with pytest.raises(FlashgenError, match="log transform"):
        Log("iso").fit({"iso": x})  # zero without an offset


def test_dequantize_round_trip_is_exact_and_unbiased(rng):
    k = _t(rng.poisson(20, 100_000))
    step = Dequantize("nvtx")
    step.fit({"nvtx": k})
    y = step.forward({"nvtx": k}, torch.Generator().manual_seed(0))["nvtx"]
    assert bool(((y - k) >= 0).all()) and bool(((y - k) < 1).all())
    torch.testing.assert_close(step.inverse({"nvtx": y})["nvtx"], k)
    # a model that reproduces the continuous density returns integers with the right mean
    resampled = step.inverse({"nvtx": y[torch.randperm(len(y))]})["nvtx"]
    assert abs(float(resampled.mean() - k.mean())) < 1e-12
    # the seed analysis' Gaussian smearing + floor would shift the mean by about -0.5
    smeared = torch.floor(k + 0.5 * torch.randn(len(k), dtype=torch.float64))
    assert float(k.mean() - smeared.mean()) == pytest.approx(0.5, abs=0.02)


def test_dequantize_refuses_non_integers():
    with pytest.raises(FlashgenError, match="integer"):
        Dequantize("x").fit({"x": _t([0.5, 1.0])})


def test_zero_padding_maps_spike_below_threshold_and_back(rng):
    jets = _t(np.where(rng.random(1000) < 0.4, 0.0, 10 + rng.exponential(20, 1000)))
    step = ZeroPadding(["j"], threshold=10.0)
    step.fit({"j": jets})
    y = step.forward({"j": jets}, torch.Generator().manual_seed(0))["j"]
    zero = jets == 0
    assert bool(((y[zero] >= 5) & (y[zero] < 10)).all())
    torch.testing.assert_close(y[~zero], jets[~zero])
    torch.testing.assert_close(step.inverse({"j": y})["j"], jets)
    with pytest.raises(FlashgenError, match="below the threshold"):
        ZeroPadding(["j"], threshold=10.0).fit({"j": _t([0.0, 5.0])})


def test_sort_descending_orders_generated_slots():
    step = SortDescending(["a", "b", "c"])
    cols = {"a": _t([1.0, 5.0]), "b": _t([3.0, 4.0]), "c": _t([2.0, 6.0])}
    out = step.inverse(cols)
    assert out["a"].tolist() == [3.0, 6.0] and out["c"].tolist() == [1.0, 4.0]
    assert step.inverse(cols, exact=False) is cols


def test_multiplicity_round_trip_and_the_count_decides(rng):
    n = 2000
    count = rng.integers(0, 4, n)
    pts = np.sort(10 + rng.exponential(20, (n, 3)), axis=1)[:, ::-1]
    pts = np.where(np.arange(3)[None, :] < count[:, None], pts, 0.0)
    cols = {f"j{k}": _t(pts[:, k]) for k in range(3)}
    step = Multiplicity(["j0", "j1", "j2"], threshold=10.0, name="nj")
    back = _roundtrip(step, cols)
    for k in range(3):
        torch.testing.assert_close(back[f"j{k}"], cols[f"j{k}"])
    assert "nj" not in back
    assert step.forward(cols)["nj"].tolist() == count.astype(float).tolist()
    # the count decides: a slot beyond it is zeroed, a kept empty slot is raised to the threshold
    out = step.inverse({"j0": _t([30.0, 0.0]), "j1": _t([0.0, 12.0]), "j2": _t([20.0, 0.0]),
                        "nj": _t([1.2, 1.9])})
    assert [out["j0"].tolist(), out["j1"].tolist(), out["j2"].tolist()] == [[30.0, 12.0], [0.0, 10.0], [0.0, 0.0]]
    assert Transform.from_state(step.state()).state() == step.state()
    with pytest.raises(FlashgenError, match="already exists"):
        Multiplicity(["j0"], 10.0, name="j1").fit(cols)


def test_residual_log_ratio_round_trip_and_constant_detection(rng):
    gen = _t(rng.uniform(1, 20, 500))
    reco = gen * torch.exp(0.05 * torch.as_tensor(rng.standard_normal(500)))
    cols = {"pt": reco, "gen_pt": gen, "eta": gen * 0 + 1.3, "gen_eta": gen * 0 + 1.3}
    r = Residual("pt", "gen_pt", mode="log-ratio")
    back = _roundtrip(r, cols)
    torch.testing.assert_close(back["pt"], reco)
    const = Residual("eta", "gen_eta")
    const.fit(cols)
    assert const.constant == 0.0
    fwd = const.forward(cols)
    assert "eta" not in fwd
    torch.testing.assert_close(const.inverse(fwd)["eta"], cols["gen_eta"])


def test_pipeline_state_round_trip_and_inverse_of_forward(muons, rng):
    n = len(muons["mu0_px"])
    cols = dict(muons, nvtx=_t(rng.poisson(20, n)), iso=_t(rng.exponential(0.1, n)))
    features = list(cols)
    steps = [OnShellEnergy("mu0_px", "mu0_py", "mu0_pz", "mu0_e", MUON_MASS), Dequantize("nvtx"),
             Log("iso", offset=0.01)]
    pipe = Pipeline(features, steps)
    z = pipe.fit(cols, torch.Generator().manual_seed(0))
    assert z.shape == (n, len(features) - 1) and z.dtype == torch.float32
    assert torch.allclose(z.double().mean(0), torch.zeros(z.shape[1], dtype=torch.float64), atol=1e-5)
    clone = Pipeline.from_state(pipe.state())
    z2 = clone.forward(cols, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z2, pipe.forward(cols, torch.Generator().manual_seed(0)))
    back = clone.inverse(z.double())
    for name in features:
        torch.testing.assert_close(back[name], cols[name], rtol=1e-5, atol=1e-5)


def test_unknown_step_in_state_is_a_clear_error():
    with pytest.raises(FlashgenError, match="unknown preprocessing step"):
        Transform.from_state({"kind": "nope"})


def test_zero_padding_below_zero_for_non_negative_quantities(rng):
    iso = _t(np.where(rng.random(1000) < 0.05, 0.0, rng.exponential(0.1, 1000)))
    step = ZeroPadding(["iso"], threshold=0.0, low=-0.01)
    step.fit({"iso": iso})
    y = step.forward({"iso": iso}, torch.Generator().manual_seed(0))["iso"]
    assert bool(((y[iso == 0] >= -0.01) & (y[iso == 0] < 0)).all())
    torch.testing.assert_close(step.inverse({"iso": y})["iso"], iso)
    with pytest.raises(FlashgenError, match="low < threshold"):
        ZeroPadding(["iso"], threshold=0.0, low=0.5)


def test_asinh_round_trip_compresses_tails():
    x = _t([-2000.0, -50.0, 0.0, 3.0, 800.0])
    step = Asinh("pz", scale=50.0)
    y = step.forward({"pz": x})["pz"]
    assert float(y.abs().max()) < 5
    torch.testing.assert_close(step.inverse({"pz": y})["pz"], x)


def test_dimuon_mass_replaces_pz_exactly(muons):
    step = DimuonMass(["mu0_px", "mu0_py", "mu0_pz"], ["mu1_px", "mu1_py", "mu1_pz"], MUON_MASS)
    step.fit(muons)
    fwd = step.forward(muons)
    assert "mu0_pz" not in fwd and set(fwd["dy_sign"].unique().tolist()) == {0.0, 1.0}
    e = muons["mu0_e"] + muons["mu1_e"]
    p2 = sum((muons[f"mu0_{c}"] + muons[f"mu1_{c}"]) ** 2 for c in ("px", "py", "pz"))
    torch.testing.assert_close(fwd["mll"], torch.sqrt(e**2 - p2))
    back = step.inverse(fwd)
    torch.testing.assert_close(back["mu0_pz"], muons["mu0_pz"], rtol=1e-7, atol=1e-6)
    # a dequantised sign (values in [0, 2)) is read the same way
    noisy = dict(fwd, dy_sign=fwd["dy_sign"] + 0.9)
    torch.testing.assert_close(step.inverse(noisy)["mu0_pz"], muons["mu0_pz"], rtol=1e-7, atol=1e-6)


def _rapidity(cols: dict[str, torch.Tensor], m: str) -> torch.Tensor:
    mt = torch.sqrt(MUON_MASS**2 + cols[f"{m}_px"] ** 2 + cols[f"{m}_py"] ** 2)
    return torch.asinh(cols[f"{m}_pz"] / mt)


def test_dimuon_mass_in_acceptance_round_trip_and_every_muon_inside(muons, rng):
    accepted = (_rapidity(muons, "mu0").abs() < 2.4) & (_rapidity(muons, "mu1").abs() < 2.4)
    cols = {k: v[accepted] for k, v in muons.items()}
    assert len(cols["mu0_px"]) > 1000
    step = DimuonMassInAcceptance(["mu0_px", "mu0_py", "mu0_pz"], ["mu1_px", "mu1_py", "mu1_pz"], MUON_MASS, 2.4)
    step.fit(cols)
    fwd = step.forward(dict(cols))
    assert not {"mu0_pz", "mu1_pz"} & set(fwd) and {"mll", "dy_sign", "y_mid"} <= set(fwd)
    back = step.inverse(dict(fwd))
    for c in ("mu0_pz", "mu1_pz"):
        torch.testing.assert_close(back[c], cols[c], rtol=1e-7, atol=1e-6)
    # any model-side values: both muons inside |y| < 2.4, or (no accepted event exists for
    # that mass and those transverse momenta) both outside, for the generator to redraw
    anything = dict(fwd, mll=fwd["mll"] * _t(rng.uniform(0.5, 3.0, len(fwd["mll"]))),
                    y_mid=_t(rng.normal(0, 5, len(fwd["mll"]))))
    out = step.inverse(anything)
    y0, y1 = _rapidity(out, "mu0").abs(), _rapidity(out, "mu1").abs()
    inside = (y0 < 2.4 + 1e-9) & (y1 < 2.4 + 1e-9)
    assert bool((inside | ((y0 >= 2.4) & (y1 >= 2.4))).all()) and float(inside.double().mean()) > 0.5
    with pytest.raises(FlashgenError, match="acceptance"):
        step.fit(muons)  # the fixture's full sample has muons beyond |y| = 2.4


def test_logit_keeps_values_inside_the_cut():
    x = _t([50.5, 91.0, 149.0])
    step = Logit("mll", 50.0, 150.0)
    back = _roundtrip(step, {"mll": x})
    torch.testing.assert_close(back["mll"], x)
    assert 50 < float(step.inverse({"mll": _t([-12.0])})["mll"][0]) < 50.01
    with pytest.raises(FlashgenError, match="outside"):
        Logit("mll", 50.0, 150.0).fit({"mll": _t([49.0])})


def test_reflection_folds_to_one_half_space_and_unfolds_symmetrically(muons):
    step = Reflection(["mu0_pz", "mu1_pz"], "mu1_pz")
    step.fit(dict(muons))
    folded = step.forward(dict(muons))
    assert bool((folded["mu1_pz"] >= 0).all())
    # the event's mirror class is kept: both pz flipped together, nothing else touched
    sign = torch.sign(muons["mu1_pz"])
    torch.testing.assert_close(folded["mu0_pz"], sign * muons["mu0_pz"], rtol=0, atol=0)
    torch.testing.assert_close(folded["mu0_px"], muons["mu0_px"], rtol=0, atol=0)
    # unfolding draws the sign: refolding gives the model side back exactly, and each event is
    # either itself or its exact mirror image
    back = step.inverse(dict(folded), torch.Generator().manual_seed(3))
    refolded = step.forward(dict(back))
    for name in folded:
        torch.testing.assert_close(refolded[name], folded[name], rtol=0, atol=0)
    same = back["mu1_pz"] == muons["mu1_pz"]
    mirrored = back["mu1_pz"] == -muons["mu1_pz"]
    assert bool((same | mirrored).all())
    torch.testing.assert_close(back["mu0_pz"], torch.where(same, 1.0, -1.0).double() * muons["mu0_pz"],
                               rtol=0, atol=0)
    # half of 2,000 events flipped, within 4 sigma of a fair coin
    assert abs(int(mirrored.sum()) - 1000) < 4 * math.sqrt(500)
    assert step.state()["kind"] == "reflection"


def test_reflection_needs_its_reference_among_the_columns():
    with pytest.raises(FlashgenError, match="reference column 'x'"):
        Reflection(["a", "b"], "x")


def test_a_constant_column_is_restored_exactly_and_survives_the_state(rng):
    n = 500
    cols = {"x": _t(rng.normal(0, 1, n)), "one": _t(np.ones(n)), "nvtx": _t(np.ones(n))}
    pipe = Pipeline(list(cols), [Dequantize("nvtx")])
    pipe.fit(cols, torch.Generator().manual_seed(0))
    assert pipe.constants == {"one": 1.0, "nvtx": 1.0}
    noise = torch.randn(n, len(pipe.model_columns), dtype=torch.float64) * 3  # anything a network makes
    for p in (pipe, Pipeline.from_state(pipe.state())):
        back = p.inverse(noise)
        assert bool((back["one"] == 1.0).all()) and bool((back["nvtx"] == 1.0).all())
        assert not bool((back["x"] == 1.0).all())


def test_a_peak_fitted_on_the_values_is_their_median_and_iqr_sigma_and_round_trips() -> None:
    from flashgen.transforms import Peak

    rng = np.random.default_rng(5)
    x = torch.as_tensor(np.concatenate([rng.normal(3.0, 0.5, 20_000), rng.exponential(20.0, 2_000) + 3.0]))
    step = Peak("m")
    step.fit({"m": x})
    q1, med, q3 = np.quantile(x.numpy(), [0.25, 0.5, 0.75])
    assert step.center == pytest.approx(med) and step.scale == pytest.approx((q3 - q1) / 1.349)
    y = step.forward({"m": x})["m"]
    assert float(y.abs().median()) == pytest.approx(0.6, abs=0.1)  # the core is about a unit wide
    torch.testing.assert_close(step.inverse({"m": y})["m"], x, rtol=1e-12, atol=1e-9)
    rebuilt = Transform.from_state(step.state())  # the fitted numbers travel in the model file
    assert (rebuilt.center, rebuilt.scale) == (step.center, step.scale)
    fixed = Peak("m", 1.0, 2.0)
    fixed.fit({"m": x})
    assert (fixed.center, fixed.scale) == (1.0, 2.0)
    with pytest.raises(FlashgenError, match="no width"):
        Peak("m").fit({"m": torch.zeros(10, dtype=torch.float64)})
