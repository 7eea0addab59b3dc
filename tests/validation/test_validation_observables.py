"""Derived observables: analytic values, rotation invariance, analysis frame, registries."""

from __future__ import annotations

import numpy as np
import pytest
from validation_synthetic import MZ, make_zmumu

from flashgen.data import EventTable
from flashgen.errors import FlashgenError
from flashgen.sources.zmumu.quantities import TRANSVERSE, align_frames, rotate_to_mu1_frame
from flashgen.validation.conditions import (SLICINGS, Slicing, applicable_slicings, register_slicing,
                                            resolve_slicing)
from flashgen.sources.observables import (
    OBSERVABLES,
    Observable,
    applicable_observables,
    register_observable,
    wrap_angle,
)

ZMUMU_OBSERVABLES = ["mll", "ptll", "met", "met_phi", "dphi_mumu", "njet15"]


def _event(**cols: float) -> EventTable:
    base = {"mu0_px": 0.0, "mu0_py": 0.0, "mu0_pz": 0.0, "mu0_e": 0.0, "mu1_px": 0.0,
            "mu1_py": 0.0, "mu1_pz": 0.0, "mu1_e": 0.0, "met_x": 0.0, "met_y": 0.0,
            **{f"jet{i}_pt": 0.0 for i in range(1, 6)}}
    base.update(cols)
    return EventTable({k: np.array([v]) for k, v in base.items()})


def test_analytic_values_of_one_event() -> None:
    # back-to-back muons of 45.6 GeV along x: m = 91.2 GeV, pT(mumu) = 0, dphi = pi
    t = _event(mu0_px=45.6, mu0_e=45.6, mu1_px=-45.6, mu1_e=45.6, met_x=0.0, met_y=-10.0,
               jet1_pt=40.0, jet2_pt=15.0, jet3_pt=15.1)
    assert OBSERVABLES["mll"](t)[0] == pytest.approx(91.2)
    assert OBSERVABLES["ptll"](t)[0] == pytest.approx(0.0)
    assert OBSERVABLES["met"](t)[0] == pytest.approx(10.0)
    assert abs(OBSERVABLES["dphi_mumu"](t)[0]) == pytest.approx(np.pi)
    # MET along -y, mu1 along -x: measured from mu1 the MET is at +pi/2
    assert OBSERVABLES["met_phi"](t)[0] == pytest.approx(np.pi / 2)
    assert OBSERVABLES["njet15"](t)[0] == 2  # 15.0 is not above 15 GeV
    t2 = _event(mu0_px=30.0, mu0_py=40.0, mu0_e=50.0, mu1_px=10.0, mu1_e=10.0)
    assert OBSERVABLES["ptll"](t2)[0] == pytest.approx(np.hypot(40.0, 40.0))
    assert OBSERVABLES["dphi_mumu"](t2)[0] == pytest.approx(np.arctan2(40.0, 30.0))


def test_wrap_angle_range() -> None:
    x = np.array([-7.0, -np.pi, 0.0, np.pi, 4.0, 100.0])
    w = wrap_angle(x)
    assert np.all(w >= -np.pi) and np.all(w < np.pi)
    np.testing.assert_allclose(np.cos(w), np.cos(x)) and np.testing.assert_allclose(np.sin(w), np.sin(x))


def _rotated(table: EventTable, angle: np.ndarray) -> EventTable:
    data = dict(table.data)
    c, s = np.cos(angle), np.sin(angle)
    for xname, yname in TRANSVERSE:
        x, y = table[xname], table[yname]
        data[xname], data[yname] = c * x - s * y, s * x + c * y
    return EventTable(data, table.columns, table.meta)


def _same_angle(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(wrap_angle(a - b + 1e-9), 1e-9, atol=1e-8)


def test_every_observable_is_invariant_under_a_common_azimuthal_rotation() -> None:
    table = make_zmumu(2000, 11)
    angle = np.random.default_rng(3).uniform(-np.pi, np.pi, len(table))
    turned = _rotated(table, angle)
    assert not np.allclose(turned["mu0_px"], table["mu0_px"])
    for name in ZMUMU_OBSERVABLES:
        a, b = OBSERVABLES[name](table), OBSERVABLES[name](turned)
        if OBSERVABLES[name].unit == "rad":
            _same_angle(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_analysis_frame_table_without_mu1_py() -> None:
    table = make_zmumu(2000, 12)
    rotated = rotate_to_mu1_frame(table)
    assert "mu1_py" not in rotated and np.all(rotated["mu1_px"] > 0)
    for name in ZMUMU_OBSERVABLES:
        a, b = OBSERVABLES[name](table), OBSERVABLES[name](rotated)
        if OBSERVABLES[name].unit == "rad":
            _same_angle(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    # the analysis-frame phi_miss is simply the MET azimuth there
    _same_angle(OBSERVABLES["met_phi"](rotated), np.arctan2(rotated["met_y"], rotated["met_x"]))
    assert {o.name for o in applicable_observables(rotated.names)} >= set(ZMUMU_OBSERVABLES)
    with pytest.raises(FlashgenError, match="mu1_py"):
        rotate_to_mu1_frame(rotated)


def test_align_frames() -> None:
    lab, rotated = make_zmumu(500, 1), make_zmumu(500, 2, analysis_frame=True)
    r, g, note = align_frames(lab, rotated)
    assert "mu1_py" not in r and g is rotated and "reference was rotated" in note
    r, g, note = align_frames(rotated, lab)
    assert r is rotated and "mu1_py" not in g and "generated table was rotated" in note
    r, g, note = align_frames(lab, lab)
    assert r is lab and g is lab and note == ""


def test_synthetic_table_looks_like_zmumu() -> None:
    table = make_zmumu(20_000, 5)
    mll = OBSERVABLES["mll"](table)
    assert abs(np.median(mll) - MZ) < 0.5
    nvtx = table["nvtx"]
    met = OBSERVABLES["met"](table)
    assert np.std(met[nvtx > 22]) > np.std(met[nvtx < 16])  # MET resolution grows with pileup
    assert np.all(table["jet2_pt"] <= table["jet1_pt"]) and np.mean(table["jet5_pt"] == 0) > 0.8


def test_observable_registry() -> None:
    names = {o.name for o in applicable_observables(["met_x", "met_y"])}
    assert names == {"met"}
    assert [o.name for o in applicable_observables(["pt", "gen_pt"])] == ["pt_response"]
    with pytest.raises(FlashgenError, match="already registered"):
        register_observable(OBSERVABLES["mll"])
    with pytest.raises(FlashgenError, match="unknown observable"):
        applicable_observables(["x"], names=["nope"])
    radius = Observable("test_radius", lambda t: np.hypot(t["x"], t["y"]), "", ("x", "y"), "r")
    try:
        register_observable(radius)
        assert [o.name for o in applicable_observables(["x", "y"])] == ["test_radius"]
        table = EventTable({"x": np.array([3.0]), "y": np.array([4.0])})
        assert OBSERVABLES["test_radius"](table)[0] == 5.0
    finally:
        OBSERVABLES.pop("test_radius", None)


def test_slicings_resolve_from_the_reference() -> None:
    table = make_zmumu(5000, 4)
    nvtx = SLICINGS["nvtx"]
    resolved = resolve_slicing(nvtx, nvtx.variable(table), ["met", "iso0"], table.names)
    median = np.median(table["nvtx"])
    assert resolved.bins == [(-np.inf, median), (median, np.inf)]
    assert resolved.labels() == [f"nvtx < {median:.4g}", f"nvtx >= {median:.4g}"]
    assert resolved.targets == ("met", "iso0") and resolved.efficiency is None
    assert resolve_slicing(nvtx, nvtx.variable(table), [], table.names) is None  # nothing to compare
    assert {s.name for s in applicable_slicings(["gen_pt", "gen_eta", "detected"])} == {
        "gen_pt", "abs_gen_eta"}


def test_slicing_of_a_fixed_input_has_one_bin() -> None:
    from flashgen.sources.electron import simulate_electrons

    table = simulate_electrons(2000, 1, fixed=(4.25, 2.5, 1.5))
    for name in ("gen_pt", "abs_gen_eta"):
        s = SLICINGS[name]
        resolved = resolve_slicing(s, s.variable(table), ["pt"], table.names)
        assert len(resolved.bins) == 1 and resolved.efficiency == "detected"
        assert resolved.mask(s.variable(table), 0).all()
    with pytest.raises(FlashgenError, match="already registered"):
        register_slicing(Slicing("nvtx", lambda t: t["nvtx"], ("nvtx",), "nvtx", quantiles=(0.5,)))
