"""Four-vectors recognised by the automatic plan (flashgen.transforms.auto_vectors): on-shell
energies, a peaked pair mass within an acceptance, the azimuthal rotation; what does not qualify
is left to the column-by-column plan; the steps round-trip; generation keeps both objects inside
the recognised acceptance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flashgen.errors import FlashgenError
from flashgen.transforms import AutoPlan, Pipeline, Plan, Transform, plan_table
from flashgen.transforms.auto_vectors import VectorPlan, plan_vectors

MUON = 0.1056583745
Y_MAX = 2.4


def _boost(e: np.ndarray, p: np.ndarray, total_e: np.ndarray, total_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Four-vectors ``(e, p)`` of a rest frame boosted to the frame where it moves with ``(total_e, total_p)``."""
    mass = np.sqrt(total_e**2 - (total_p**2).sum(axis=1))
    gamma = total_e / mass
    beta = total_p / total_e[:, None]
    b2 = (beta**2).sum(axis=1)
    bp = (beta * p).sum(axis=1)
    coef = np.where(b2 > 0, (gamma - 1) * bp / np.where(b2 > 0, b2, 1), 0.0)
    return gamma * (e + bp), p + (coef + gamma * e)[:, None] * beta


def resonance_table(n: int, seed: int, pair: bool = True) -> dict[str, np.ndarray]:
    """Two muons from a 91 GeV resonance (Breit-Wigner, width 2.5 GeV, 60-120 GeV) with a
    recoil, both within |eta| < 2.4 and ordered by pT, a missing momentum and a vertex count.
    ``pair=False`` pairs each first muon with another event's second one (no peak)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, np.ndarray]] = []
    kept = 0
    while kept < n:
        m = 2 * n
        mass = 91.19 + 1.25 * rng.standard_cauchy(4 * m)
        mass = mass[(mass > 60) & (mass < 120)][:m]
        pt = rng.exponential(12.0, m)
        phi = rng.uniform(-np.pi, np.pi, m)
        rap = rng.normal(0, 1.6, m)
        mt = np.sqrt(mass**2 + pt**2)
        total_p = np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rap)], axis=1)
        total_e = mt * np.cosh(rap)
        cos = rng.uniform(-1, 1, m)
        az = rng.uniform(-np.pi, np.pi, m)
        q = np.sqrt(mass**2 / 4 - MUON**2)
        sin = np.sqrt(1 - cos**2)
        d = q[:, None] * np.stack([sin * np.cos(az), sin * np.sin(az), cos], axis=1)
        e_star = np.full(m, 0.0) + mass / 2
        ea, pa = _boost(e_star, d, total_e, total_p)
        eb, pb = _boost(e_star, -d, total_e, total_p)
        pta, ptb = np.hypot(pa[:, 0], pa[:, 1]), np.hypot(pb[:, 0], pb[:, 1])
        eta_a, eta_b = np.arcsinh(pa[:, 2] / pta), np.arcsinh(pb[:, 2] / ptb)
        ok = (np.abs(eta_a) < Y_MAX) & (np.abs(eta_b) < Y_MAX) & (pta > 5) & (ptb > 5)
        lead = pta >= ptb
        p0 = np.where(lead[:, None], pa, pb)[ok]
        p1 = np.where(lead[:, None], pb, pa)[ok]
        rows.append({"p0": p0, "p1": p1, "met": -total_p[ok, :2] + rng.normal(0, 10, (int(ok.sum()), 2))})
        kept += int(ok.sum())
    p0, p1, met = (np.concatenate([r[k] for r in rows])[:n] for k in ("p0", "p1", "met"))
    if not pair:
        p1 = p1[np.random.default_rng(seed + 1).permutation(n)]
    cols = {}
    for name, p in (("mu0", p0), ("mu1", p1)):
        cols[f"{name}_px"], cols[f"{name}_py"], cols[f"{name}_pz"] = p[:, 0], p[:, 1], p[:, 2]
        cols[f"{name}_e"] = np.sqrt((p**2).sum(axis=1) + MUON**2)
    cols["met_x"], cols["met_y"] = met[:, 0], met[:, 1]
    cols["nvtx"] = rng.poisson(20, n).astype(np.float64)
    return cols


@pytest.fixture(scope="module")
def table() -> dict[str, np.ndarray]:
    return resonance_table(6000, seed=1)


def test_four_vectors_are_recognised_from_their_values(table) -> None:
    plans, out = plan_vectors(table)
    assert [p.kind for p in plans] == ["ordered", "on_shell", "on_shell", "pair_mass", "azimuth", "pair_momentum"]
    assert plans[0].params == {"slots": [["mu0_px", "mu0_py", "mu0_pz", "mu0_e"], ["mu1_px", "mu1_py", "mu1_pz", "mu1_e"]],
                               "transverse": True}  # μ0 leads in pT
    assert plans[1].params["mass"] == pytest.approx(MUON, rel=1e-6)
    pair = plans[3]
    assert pair.params["y_max"] == pytest.approx(2.4, abs=1e-12)  # the acceptance's edge, read from the rapidities
    assert "m(mu0, mu1) peaked" in pair.why
    lowest = min(np.hypot(table[f"{m}_px"], table[f"{m}_py"]).min() for m in ("mu0", "mu1"))
    assert 5.0 <= pair.pt_min < lowest  # the toy's cut pT > 5 GeV, placed from the values below every one
    pt0, pt1 = np.hypot(table["mu0_px"], table["mu0_py"]), np.hypot(table["mu1_px"], table["mu1_py"])
    pair_pt = np.hypot(table["mu0_px"] + table["mu1_px"], table["mu0_py"] + table["mu1_py"])
    np.testing.assert_allclose(np.hypot(out["mu0_mu1_px"], out["mu0_py"]), pair_pt, rtol=1e-9, atol=1e-9)
    assert np.all(pt0 >= pt1)
    assert plans[4].params["reference"] == ["mu1_px", "mu1_py"]
    assert plans[4].params["vectors"] == [["mu0_px", "mu0_py"], ["mu1_px", "mu1_py"], ["met_x", "met_y"]]
    assert plans[5].params == {"first": ["mu0_px"], "second": ["mu1_px"], "pair": ["mu0_mu1_px"]}
    # energies and both pz replaced, μ1's py rotated away, μ0's px by the pair's; nvtx is no
    # vector's component
    assert list(out) == ["mu0_py", "mu1_px", "met_x", "met_y", "nvtx",
                         "mu0_mu1_mass", "mu0_mu1_dy_sign", "mu0_mu1_y_mid", "mu0_mu1_px"]
    mass = out["mu0_mu1_mass"]
    assert 60 - 1e-9 <= mass.min() and mass.max() <= 120 + 1e-9 and abs(np.median(mass) - 91.19) < 0.3
    np.testing.assert_allclose(out["mu1_px"], np.hypot(table["mu1_px"], table["mu1_py"]), rtol=1e-14)  # the pT


def test_vector_steps_round_trip(table) -> None:
    """Energies, pz, every pT and the azimuths between vectors come back (the overall azimuth
    is drawn anew); also through the steps' stored state."""
    plans, _ = plan_vectors(table)
    cols = {k: torch.as_tensor(v) for k, v in table.items()}
    steps = [p.step() for p in plans]
    z = cols
    for s in steps:
        s.fit(z)
        z = s.forward(z, torch.Generator().manual_seed(0))
    for built in (steps, [Transform.from_state(s.state()) for s in steps]):
        back = dict(z)
        for s in reversed(built):
            back = s.inverse(back, torch.Generator().manual_seed(1))
        b = {k: v.numpy() for k, v in back.items()}
        for k in ("mu0_pz", "mu1_pz", "mu0_e", "mu1_e"):
            np.testing.assert_allclose(b[k], table[k], rtol=1e-9, atol=1e-9, err_msg=k)
        for v in ("mu0_p", "mu1_p", "met_"):
            np.testing.assert_allclose(np.hypot(b[v + "x"], b[v + "y"]), np.hypot(table[v + "x"], table[v + "y"]),
                                       rtol=1e-9, atol=1e-9)
        dphi = np.angle(np.exp(1j * (np.arctan2(b["mu0_py"], b["mu0_px"]) - np.arctan2(b["met_y"], b["met_x"]))))
        want = np.angle(np.exp(1j * (np.arctan2(table["mu0_py"], table["mu0_px"])
                                     - np.arctan2(table["met_y"], table["met_x"]))))
        np.testing.assert_allclose(dphi, want, atol=1e-9)
        assert not np.allclose(b["mu0_px"], table["mu0_px"])  # a fresh azimuth


def test_what_does_not_qualify_is_planned_column_by_column(table) -> None:
    rng = np.random.default_rng(3)
    smeared = {**table, "mu0_e": table["mu0_e"] * (1 + 1e-3 * rng.standard_normal(len(table["mu0_e"])))}
    kinds = [p.kind for p in plan_vectors(smeared)[0]]
    assert kinds == ["on_shell", "azimuth"]  # μ0 off its mass shell: no energy to drop, no pair
    unpaired = resonance_table(6000, seed=1, pair=False)
    assert [p.kind for p in plan_vectors(unpaired)[0]] == ["on_shell", "on_shell", "azimuth"]  # no peak
    swapped = dict(table)
    for c in ("px", "py", "pz", "e"):  # μ0 and μ1 in the first rows exchanged: no object leads in pT
        swapped[f"mu0_{c}"], swapped[f"mu1_{c}"] = table[f"mu0_{c}"].copy(), table[f"mu1_{c}"].copy()
        swapped[f"mu0_{c}"][:10], swapped[f"mu1_{c}"][:10] = table[f"mu1_{c}"][:10], table[f"mu0_{c}"][:10]
    assert [p.kind for p in plan_vectors(swapped)[0]][0] == "on_shell"
    with_phi = {**table, "jet_phi": rng.uniform(-np.pi, np.pi, len(table["nvtx"]))}
    assert "azimuth" not in [p.kind for p in plan_vectors(with_phi)[0]]  # an azimuth it would not rotate
    loose = {**table, "jet_x": rng.normal(size=len(table["nvtx"]))}
    assert "azimuth" not in [p.kind for p in plan_vectors(loose)[0]]  # an x without its y
    kept = plan_vectors(table, keep=["mu0_pz"])[0]
    assert [p.kind for p in kept] == ["on_shell"]  # μ0 left to the column plan: μ1's energy only
    assert kept[0].columns[0] == "mu1_px"


def test_plan_table_describes_stores_and_overrides(table) -> None:
    plan = plan_table(table)
    lines = plan.describe().splitlines()
    assert lines[0] == "mu0_px, mu0_py, mu1_px, mu1_py: ordered (pT(mu0) >= pT(mu1) in every event)"
    assert lines[1].startswith("mu0_px, mu0_py, mu0_pz, mu0_e: on_shell (E = sqrt(p^2 + m^2), m = 0.1057 GeV")
    assert lines[3].startswith("mu0_pz, mu1_pz: pair_mass (m(mu0, mu1) peaked")
    assert any(line.startswith("mu0_mu1_mass: logit+peak") for line in lines)
    again = Plan.from_dict(json.loads(json.dumps(plan.as_dict())))
    assert again.describe() == plan.describe() and again.vectors == plan.vectors
    assert Plan.from_dict({"columns": plan.as_dict()["columns"]}).vectors == ()  # a plan stored before
    off = plan_table(table, {"mu0_pz": "standard"})
    assert "pair_mass" not in [v.kind for v in off.vectors] and off["mu0_pz"].kind == "standard"
    with pytest.raises(FlashgenError, match="unknown column"):
        plan_table(table, {"mu0_mu1_mass": "logit"})


def test_generated_pairs_stay_inside_the_recognised_acceptance(table) -> None:
    """Any model output maps to both muons inside |y| < 2.4, or to an event the generator redraws
    (flashgen.generation.acceptance reads the cut from the stored plan)."""
    from flashgen.generation import _plan_acceptance

    features = list(table)
    pipe = Pipeline(features, [AutoPlan(features)])
    pipe.fit({k: torch.as_tensor(v) for k, v in table.items()}, torch.Generator().manual_seed(0))
    z = 2 * torch.randn(50_000, len(pipe.model_columns), dtype=torch.float64)
    out = {k: v.numpy() for k, v in pipe.inverse(z, generator=torch.Generator().manual_seed(1)).items()}
    accept = _plan_acceptance(pipe.steps[0].plan)
    assert accept is not None and set(accept.columns) == {f"mu{i}_p{c}" for i in (0, 1) for c in "xyz"}
    accept_pt = VectorPlan.from_dict(pipe.steps[0].plan["vectors"][3]).pt_min
    assert accept_pt >= 5.0 and "pT >" in accept.description
    inside = accept.inside(out)
    assert 0.9 < inside.mean() < 1.0  # the few outside are those the generator redraws
    for mu in ("mu0", "mu1"):
        mt = np.sqrt(MUON**2 + out[f"{mu}_px"] ** 2 + out[f"{mu}_py"] ** 2)
        y = np.arcsinh(out[f"{mu}_pz"] / mt)
        assert np.abs(y[inside]).max() < 2.4 and np.hypot(out[f"{mu}_px"], out[f"{mu}_py"])[inside].min() > accept_pt
        np.testing.assert_allclose(out[f"{mu}_e"], np.sqrt(mt**2 + out[f"{mu}_pz"] ** 2), rtol=1e-12)
    pt0, pt1 = (np.hypot(out[f"{mu}_px"], out[f"{mu}_py"]) for mu in ("mu0", "mu1"))
    assert np.all(pt0 >= pt1)  # the leading muon first, as in the table
    assert isinstance(VectorPlan.from_dict(pipe.steps[0].plan["vectors"][3]).step(), Transform)


def test_ordered_objects_are_sorted_back_whole() -> None:
    """Slots in descending order of one column (zero-padded jets, NanoAOD's Jet_i_pt) are
    recognised with every column of their slot, and the inverse sorts whole objects."""
    rng = np.random.default_rng(5)
    n = 4000
    pt = -np.sort(-rng.exponential(20, (n, 3)), axis=1) * (rng.random((n, 3)) < 0.8)
    pt = -np.sort(-pt, axis=1)  # zeros (absent jets) last
    eta = rng.uniform(-4, 4, (n, 3)) * (pt > 0)  # padded with 0, like the pT
    cols = {"nJet": (pt > 0).sum(axis=1).astype(float)}
    for i in range(3):
        cols[f"Jet_{i}_pt"], cols[f"Jet_{i}_eta"] = pt[:, i], eta[:, i]
    cols["mu1_iso"], cols["mu2_iso"] = rng.random(n), rng.random(n)  # numbered, not ordered
    plans, _ = plan_vectors(cols)
    assert [p.kind for p in plans] == ["ordered"]
    assert plans[0].columns == ("Jet_0_pt", "Jet_1_pt", "Jet_2_pt")
    assert plans[0].params["slots"] == [["Jet_0_pt", "Jet_0_eta"], ["Jet_1_pt", "Jet_1_eta"], ["Jet_2_pt", "Jet_2_eta"]]
    step = Transform.from_state(plans[0].step().state())
    swapped = {k: torch.as_tensor(v) for k, v in cols.items()}
    swapped["Jet_0_pt"], swapped["Jet_1_pt"] = swapped["Jet_1_pt"], swapped["Jet_0_pt"]
    swapped["Jet_0_eta"], swapped["Jet_1_eta"] = swapped["Jet_1_eta"], swapped["Jet_0_eta"]
    back = step.inverse(swapped)
    for i in range(3):  # the swapped objects come back in place, each with its own eta
        assert torch.equal(back[f"Jet_{i}_pt"], torch.as_tensor(cols[f"Jet_{i}_pt"]))
        assert torch.equal(back[f"Jet_{i}_eta"], torch.as_tensor(cols[f"Jet_{i}_eta"]))
    assert step.inverse(swapped, exact=False)["Jet_0_pt"] is swapped["Jet_0_pt"]  # differentiable: as is
