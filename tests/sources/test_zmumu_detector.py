"""Unit tests of the Z→μμ detector pieces: parametrisation, smearing, pileup overlay, jets and their
pileup mitigation (charged-hadron subtraction, area-median rho), analysis."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.sources.zmumu import physics as phys
from flashgen.sources.zmumu.analysis import analyse, delta_phi, missing_pt, n_vertices
from flashgen.sources.zmumu.schema import GEN_LEVEL_COLUMNS, ZMUMU_COLUMNS
from flashgen.sources.zmumu.detector import (NEUTRAL_HADRON, PHOTON, TRACK, Candidates, reconstruct,
                                             smear_lognormal)
from flashgen.sources.zmumu.generator import HardEvents
from flashgen.sources.zmumu import jets as jets_mod
from flashgen.sources.zmumu.jets import (JET_AREA, central_fraction, charged_hadron_subtraction,
                                        cluster_jets, pileup_density)
from flashgen.sources.zmumu.particles import Particles, kinematics
from flashgen.sources.zmumu.pileup import PileupLibrary, overlay


def test_particle_classes() -> None:
    pid = np.array([13, -11, 211, 22, 2112, 310, -3122, 14, 130, 3312])
    charge = np.array([-1, 1, 1, 0, 0, 0, 0, 0, 0, -1])
    expected = [phys.MUON, phys.ELECTRON, phys.CHARGED_HADRON, phys.PHOTON, phys.NEUTRAL_HADRON,
                phys.LONG_LIVED_NEUTRAL, phys.LONG_LIVED_NEUTRAL, phys.INVISIBLE,
                phys.NEUTRAL_HADRON, phys.CHARGED_HADRON]
    np.testing.assert_array_equal(phys.particle_class(pid, charge), expected)


@pytest.mark.parametrize(("cls", "pt", "eta", "eff"), [
    (phys.CHARGED_HADRON, 0.5, 0.0, 0.70), (phys.CHARGED_HADRON, 5.0, 1.4, 0.95),
    (phys.CHARGED_HADRON, 0.5, -2.0, 0.60), (phys.CHARGED_HADRON, 5.0, 2.4, 0.85),
    (phys.MUON, 0.5, 0.3, 0.75), (phys.MUON, 40.0, 1.0, 0.99),
    (phys.MUON, 0.5, 2.0, 0.70), (phys.MUON, 40.0, -2.2, 0.98),
    (phys.ELECTRON, 0.5, 0.0, 0.73), (phys.ELECTRON, 50.0, 0.0, 0.95),
    (phys.ELECTRON, 150.0, 0.0, 0.99), (phys.ELECTRON, 0.5, 2.0, 0.50),
    (phys.ELECTRON, 50.0, 2.0, 0.83), (phys.ELECTRON, 150.0, 2.0, 0.90),
    (phys.MUON, 0.1, 0.0, 0.0), (phys.MUON, 40.0, 2.6, 0.0), (phys.PHOTON, 40.0, 0.0, 0.0),
])
def test_tracking_efficiency_table(cls: int, pt: float, eta: float, eff: float) -> None:
    assert phys.tracking_efficiency(np.array([cls]), np.array([pt]), np.array([eta]))[0] == eff


def test_track_resolution_values() -> None:
    cls = np.array([phys.MUON, phys.MUON, phys.MUON, phys.CHARGED_HADRON, phys.ELECTRON, phys.MUON])
    pt = np.array([100.0, 100.0, 100.0, 10.0, 10.0, 100.0])
    eta = np.array([0.2, 1.0, 2.0, 0.0, 2.0, 3.0])
    expected = [np.hypot(0.01, 0.01), np.hypot(0.015, 0.015), np.hypot(0.025, 0.035),
                np.hypot(0.01, 1.5e-3), np.hypot(0.15, 3.1e-2), 0.0]
    np.testing.assert_allclose(phys.track_resolution(cls, pt, eta), expected, rtol=1e-12)


def test_calorimeter_resolutions() -> None:
    e = np.full(4, 100.0)
    central = np.sqrt(0.008**2 * 1e4 + 0.11**2 * 100 + 0.40**2)
    np.testing.assert_allclose(
        phys.ecal_resolution(e, np.array([1.0, 2.0, 4.0, 5.5])),
        [1.64 * central, 2.16 * central, np.sqrt(0.107**2 * 1e4 + 2.08**2 * 100), 0.0])
    np.testing.assert_allclose(
        phys.hcal_resolution(e[:3], np.array([0.0, 4.0, 6.0])),
        [np.sqrt(25 + 225.0), np.sqrt(0.13**2 * 1e4 + 2.7**2 * 100), 0.0])


def test_muon_id_efficiency() -> None:
    pt = np.array([9.0, 11.0, 500.0, 2000.0, 50.0])
    eta = np.array([0.0, 0.0, 2.3, 1.0, 2.45])
    np.testing.assert_allclose(phys.muon_id_efficiency(pt, eta),
                               [0.0, 0.95, 0.95, 0.95 * np.exp(0.5 - 1.0), 0.0])


def test_lognormal_smearing_moments(rng: np.random.Generator) -> None:
    z = rng.standard_normal(400_000)
    x = smear_lognormal(np.full(len(z), 10.0), np.full(len(z), 3.0), z)
    assert x.min() > 0
    assert abs(x.mean() - 10.0) < 0.03 and abs(x.std() - 3.0) < 0.05
    np.testing.assert_array_equal(smear_lognormal(np.array([5.0, 0.0]), np.zeros(2), np.ones(2)),
                                  [5.0, 0.0])


def test_kinematics_and_delta_phi() -> None:
    pt, eta, phi = kinematics(np.array([3.0, 0.0]), np.array([4.0, 0.0]), np.array([0.0, 7.0]))
    np.testing.assert_allclose(pt, [5.0, 0.0])
    assert eta[0] == 0.0 and eta[1] == np.inf
    assert phi[0] == pytest.approx(np.arctan2(4, 3))
    np.testing.assert_allclose(delta_phi(np.array([3.0, -3.0]), np.array([-3.0, 3.0])),
                               [6.0 - 2 * np.pi, 2 * np.pi - 6.0])


def _particles(pid: list[int], charge: list[float], p: list[tuple[float, float, float]],
               event: list[int] | None = None, vertex: list[int] | None = None,
               mass: float | list[float] = 0.0) -> Particles:
    mom = np.array(p, dtype=np.float64)
    m = np.broadcast_to(np.asarray(mass, dtype=np.float64), (len(pid),)).copy()
    n = len(pid)
    return Particles(
        event=np.asarray(event if event is not None else [0] * n, dtype=np.int64),
        vertex=np.asarray(vertex if vertex is not None else [0] * n, dtype=np.int32),
        pid=np.asarray(pid, dtype=np.int32), charge=np.asarray(charge, dtype=np.float64),
        px=mom[:, 0], py=mom[:, 1], pz=mom[:, 2],
        e=np.sqrt((mom**2).sum(axis=1) + m**2), m=m)


def test_reconstruct_routes_particles(rng: np.random.Generator) -> None:
    n = 20_000
    # Hard charged pions in the barrel (tracked 95 %), high-energy photons and neutrons,
    # forward pions beyond the tracker (HCAL only), neutrinos (invisible), K0S (ECAL + HCAL).
    kinds = [(211, 1.0, (20.0, 0.0, 0.0)), (22, 0.0, (0.0, 20.0, 0.0)),
             (2112, 0.0, (0.0, -20.0, 0.0)), (211, 1.0, (1.0, 0.0, 30.0)),
             (12, 0.0, (30.0, 0.0, 0.0)), (310, 0.0, (0.0, 0.0, 0.0))]
    pid, charge, mom = zip(*[kinds[i % len(kinds)] for i in range(n)])
    mom = [(50.0, 50.0, 0.0) if k == 310 else m for k, m in zip(pid, mom)]
    parts = _particles(list(pid), list(charge), mom, mass=0.0)
    cands = reconstruct(parts, rng)
    src_pid = parts.pid[cands.source]
    tracked_pions = (cands.kind == TRACK) & (src_pid == 211)
    central = np.abs(parts.pz[cands.source]) == 0
    assert np.mean(np.isin(np.flatnonzero((parts.pid == 211) & (parts.pz == 0)),
                           cands.source[tracked_pions])) == pytest.approx(0.95, abs=0.015)
    assert not np.any(tracked_pions & ~central)  # |eta| ~ 4.1 is beyond the tracker
    assert np.all(cands.kind[src_pid == 22] == PHOTON)
    assert np.all(cands.kind[src_pid == 2112] == NEUTRAL_HADRON)
    assert not np.any(src_pid == 12)
    # Untracked central pions and all forward pions go to the HCAL, never to the ECAL.
    assert not np.any((src_pid == 211) & (cands.kind == PHOTON))
    assert np.any((src_pid == 211) & (cands.kind == NEUTRAL_HADRON) & ~central)
    # K0S: 30 % of the energy in the ECAL, 70 % in the HCAL (means, since smearing keeps them).
    k_ecal = cands.e[(src_pid == 310) & (cands.kind == PHOTON)]
    k_hcal = cands.e[(src_pid == 310) & (cands.kind == NEUTRAL_HADRON)]
    e_k0s = np.hypot(50.0, 50.0)
    assert k_ecal.mean() == pytest.approx(0.3 * e_k0s, rel=0.02)
    assert k_hcal.mean() == pytest.approx(0.7 * e_k0s, rel=0.03)
    # Track pT resolution of 20 GeV central pions: sqrt(0.01^2 + (20 * 1.5e-4)^2).
    rel = cands.pt[tracked_pions & central] / 20.0 - 1.0
    assert rel.std() == pytest.approx(np.hypot(0.01, 20 * 1.5e-4), rel=0.05)
    # ECAL photons of 20 GeV at eta = 0: sigma = sqrt(0.008^2 E^2 + 0.11^2 E + 0.4^2).
    photons = cands.e[src_pid == 22]
    assert photons.std() == pytest.approx(np.sqrt(0.16**2 + 0.11**2 * 20 + 0.16), rel=0.05)
    assert cands.e[(cands.kind != TRACK)].min() >= phys.ECAL_THRESHOLD


def test_muons_on_shell_and_identified(rng: np.random.Generator) -> None:
    n = 10_000
    parts = _particles([13] * n, [-1.0] * n, [(40.0, 0.0, 10.0)] * n, mass=phys.MUON_MASS)
    cands = reconstruct(parts, rng)
    assert np.all(cands.kind == TRACK)
    p2 = cands.px**2 + cands.py**2 + cands.pz**2
    np.testing.assert_allclose(cands.e, np.sqrt(p2 + phys.MUON_MASS**2), rtol=1e-12)
    np.testing.assert_allclose(cands.eta, np.arcsinh(0.25))
    assert len(cands) / n == pytest.approx(0.99, abs=0.005)
    assert cands.muon.mean() == pytest.approx(0.95, abs=0.01)


def test_overlay_picks_rotates_and_counts(rng: np.random.Generator) -> None:
    lib_parts = _particles([211, 22, 2112], [1.0, 0.0, 0.0],
                           [(1.0, 0.0, 2.0), (0.0, 2.0, -1.0), (3.0, 0.0, 5.0)],
                           event=[0, 0, 1], mass=[0.1396, 0.0, 0.9396])
    library = PileupLibrary.from_particles(lib_parts, 2)
    np.testing.assert_array_equal(library.offsets, [0, 2, 3])
    parts, n_pileup = overlay(library, 2000, 5.0, rng)
    assert n_pileup.mean() == pytest.approx(5.0, abs=0.15)
    assert n_pileup.var() == pytest.approx(5.0, rel=0.1)
    # Each interaction is a whole library event: vertex k has 2 (event 0) or 1 (event 1) particles.
    for ev in range(20):
        sel = parts.event == ev
        assert sorted(set(parts.vertex[sel])) == list(range(1, n_pileup[ev] + 1))
    pt = np.hypot(parts.px, parts.py)
    for pid, pt0, pz0 in ((211, 1.0, 2.0), (22, 2.0, 1.0), (2112, 3.0, 5.0)):
        sel = parts.pid == pid
        np.testing.assert_allclose(pt[sel], pt0)
        np.testing.assert_allclose(np.abs(parts.pz[sel]), pz0)
        assert np.mean(parts.pz[sel] > 0) == pytest.approx(0.5, abs=0.05)
    phi = np.arctan2(parts.py, parts.px)
    assert abs(np.mean(np.cos(phi))) < 0.05 and abs(np.mean(np.sin(phi))) < 0.05


def _candidates(rows: list[tuple[int, int, int, float, float, float, float, bool]]) -> Candidates:
    """Candidates from rows (event, vertex, kind, pt, eta, phi, charge, muon), massless."""
    ev, vx, kind, pt, eta, phi, charge, muon = (np.array(c) for c in zip(*rows))
    pt, eta, phi = pt.astype(float), eta.astype(float), phi.astype(float)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return Candidates(ev.astype(np.int64), vx.astype(np.int32), kind.astype(np.int8), px, py, pz,
                      pt * np.cosh(eta), pt, eta, phi, charge.astype(float), muon.astype(bool),
                      np.arange(len(rows)))


def test_missing_pt_and_vertices() -> None:
    c = _candidates([
        (0, 0, TRACK, 10.0, 0.0, 0.0, 1, False), (0, 0, TRACK, 0.6, 0.0, 1.0, 1, False),
        (0, 1, TRACK, 0.7, 0.0, 2.0, -1, False), (0, 1, TRACK, 0.4, 0.0, 2.0, 1, False),
        (0, 2, TRACK, 0.9, 1.0, 0.0, 1, False), (0, 2, TRACK, 0.8, 1.0, 0.5, -1, False),
        (0, 2, PHOTON, 5.0, 1.0, np.pi / 2, 0, False), (1, 0, NEUTRAL_HADRON, 3.0, 0.0, np.pi, 0, False),
    ])
    met_x, met_y = missing_pt(c, 3)
    np.testing.assert_allclose(met_x[1:], [3.0, 0.0])
    assert met_x[0] == pytest.approx(-c.px[:7].sum())
    assert met_y[0] == pytest.approx(-c.py[:7].sum())
    # Vertex 0 and 2 have two tracks above 0.5 GeV; vertex 1 only one.
    np.testing.assert_array_equal(n_vertices(c, 3), [2, 0, 0])


def test_cluster_jets_orders_cuts_and_pads() -> None:
    # Event 0: three well separated hard particles + one at eta 4.9 (jet cut away);
    # event 1: nothing above 10 GeV; event 2: two particles merged into one jet (dR = 0.1).
    rows = [(0, 30.0, 0.0, 0.0), (0, 50.0, 1.0, 2.0), (0, 15.0, -1.0, -2.0), (0, 40.0, 4.9, 0.0),
            (1, 5.0, 0.0, 0.0), (2, 20.0, 0.0, 0.0), (2, 20.0, 0.1, 0.0)]
    ev, pt, eta, phi = (np.array(c) for c in zip(*rows))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    jet_pt, njet = cluster_jets(ev, px, py, pz, pt * np.cosh(eta), 3)
    np.testing.assert_allclose(jet_pt[0], [50.0, 30.0, 15.0, 0.0, 0.0], rtol=1e-9)
    np.testing.assert_array_equal(jet_pt[1], np.zeros(5))
    assert jet_pt[2, 0] == pytest.approx(40.0, rel=1e-3) and jet_pt[2, 1] == 0
    np.testing.assert_array_equal(njet, [3, 0, 1])


def test_charged_hadron_subtraction_removes_pileup_tracks_only() -> None:
    kind = np.array([TRACK, TRACK, TRACK, PHOTON, NEUTRAL_HADRON, PHOTON, NEUTRAL_HADRON])
    vertex = np.array([0, 1, 7, 0, 0, 3, 2])
    # Hard tracks and every calorimeter candidate (no vertex information) stay.
    np.testing.assert_array_equal(charged_hadron_subtraction(kind, vertex),
                                  [True, False, False, True, True, True, True])


def _lattice(n_eta: int, n_phi: int, eta_lo: float, eta_hi: float, pt: float,
             event: int = 0) -> tuple[np.ndarray, ...]:
    """One particle of ``pt`` at the centre of each of n_eta x n_phi bins of [eta_lo, eta_hi)."""
    deta = (eta_hi - eta_lo) / n_eta
    eta, phi = np.meshgrid(eta_lo + (np.arange(n_eta) + 0.5) * deta,
                           -np.pi + (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi, indexing="ij")
    n = eta.size
    return np.full(n, event), np.full(n, pt), eta.ravel(), phi.ravel()


def test_pileup_density_of_uniform_events() -> None:
    # Event 0: a fine lattice (0.05 x 2 pi / 120) of 0.03 GeV particles in |eta| < 2.5 and of
    # 0.05 GeV particles in 2.5 <= |eta| < 5: densities 0.03 / (0.05 * 2 pi / 120) and
    # 0.05 / (...) GeV per unit area, whatever the rho grid; plus a 200 GeV "jet" and particles
    # beyond |eta| = 5, which must not change the medians.
    cell = 0.05 * 2 * np.pi / 120
    parts = [_lattice(100, 120, -2.5, 2.5, 0.03), _lattice(50, 120, 2.5, 5.0, 0.05),
             _lattice(50, 120, -5.0, -2.5, 0.05),
             (np.zeros(3), np.array([200.0, 50.0, 50.0]), np.array([0.1, 5.2, -6.0]),
              np.array([1.0, 0.0, 2.0]))]
    # Event 1: no inputs. Event 2: a few hard particles, most cells empty: rho = 0.
    parts.append((np.full(3, 2), np.array([40.0, 30.0, 20.0]), np.array([0.0, 1.0, 3.0]),
                  np.array([0.0, 2.0, -2.0])))
    event, pt, eta, phi = (np.concatenate(c) for c in zip(*parts))
    rho = pileup_density(event.astype(np.int64), pt, eta, phi, 3)
    np.testing.assert_allclose(rho[0], [0.03 / cell, 0.05 / cell], rtol=1e-9)
    np.testing.assert_array_equal(rho[1:], 0.0)
    # Density doubled in the tracker region only: only the central rho doubles.
    e2, pt2, eta2, phi2 = _lattice(100, 120, -2.5, 2.5, 0.03)
    rho2 = pileup_density(np.concatenate([event, e2]).astype(np.int64), np.concatenate([pt, pt2]),
                          np.concatenate([eta, eta2]), np.concatenate([phi, phi2]), 3)
    np.testing.assert_allclose(rho2[0], [0.06 / cell, 0.05 / cell], rtol=1e-9)


def test_pileup_density_is_the_median_over_cells() -> None:
    # Only the first 70 of the 120 central cells hold one particle of pT 1, 2, ..., 70 GeV:
    # the median over 120 cells is the mean of the 60th and 61st values of
    # [0 x 50, 1 .. 70] = (10 + 11) / 2 GeV, divided by the cell area.
    n_phi, width = jets_mod.RHO_CELLS_PHI, jets_mod.RHO_CELL_ETA
    i = np.arange(70)
    eta = -2.5 + (i // n_phi + 0.5) * width
    phi = -np.pi + (i % n_phi + 0.5) * 2 * np.pi / n_phi
    rho = pileup_density(np.zeros(70, dtype=np.int64), i + 1.0, eta, phi, 1)
    assert rho[0, 0] == pytest.approx(10.5 / (width * 2 * np.pi / n_phi))
    assert rho[0, 1] == 0.0


def test_central_fraction_is_the_disk_area_inside_the_tracker() -> None:
    # Numerical area of the R = 0.4 disk on either side of |eta| = 2.5 on a fine grid.
    x, y = np.meshgrid(np.linspace(-0.4, 0.4, 801), np.linspace(-0.4, 0.4, 801))
    disk = x**2 + y**2 < 0.16
    for centre in (0.0, 2.2, 2.35, 2.5, 2.6, 2.85, 4.0):
        expected = np.mean((centre + x)[disk] < 2.5)
        assert central_fraction(np.array([centre]))[0] == pytest.approx(expected, abs=2e-3)
    np.testing.assert_allclose(central_fraction(np.array([2.3, 2.7])).sum(), 1.0)


def test_cluster_jets_subtracts_rho_times_area() -> None:
    # Event 0: central jet of 30 GeV, forward jet of 32 GeV (more pileup there: it falls behind
    # the central one), a 12 GeV central jet that falls below 10 GeV after the correction, and a
    # jet on the |eta| = 2.5 boundary (half of each rho). Event 1: the same jets, rho = 0.
    rows = [(30.0, 0.0, 0.0), (32.0, 3.5, 2.0), (12.0, -1.0, -2.0), (40.0, 2.5, -0.5)]
    pt, eta, phi = (np.array(c * 2) for c in zip(*rows))
    ev = np.repeat([0, 1], len(rows))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    rho = np.array([[10.0, 20.0], [0.0, 0.0]])
    jet_pt, njet = cluster_jets(ev, px, py, pz, pt * np.cosh(eta), 2, rho)
    expected = sorted([30.0 - 10 * JET_AREA, 32.0 - 20 * JET_AREA, 40.0 - 15 * JET_AREA],
                      reverse=True)
    np.testing.assert_allclose(jet_pt[0], [*expected, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(jet_pt[1], [40.0, 32.0, 30.0, 12.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(njet, [3, 4])
    assert JET_AREA == pytest.approx(np.pi * 0.16)


def test_analyse_removes_pileup_tracks_from_jets_only() -> None:
    mu = phys.MUON_MASS
    # Two muons; a 20 GeV hard track and a 20 GeV pileup photon far from everything (jets);
    # a 20 GeV pileup track (removed from the jets, kept in MET) and a 2 GeV pileup track next
    # to mu0 (kept in its isolation).
    rows = [
        (0, 0, TRACK, 45.0, 0.0, 0.0, -1, True), (0, 0, TRACK, 45.0, 0.0, np.pi, 1, True),
        (0, 0, TRACK, 20.0, 1.5, np.pi / 2, 1, False), (0, 4, PHOTON, 20.0, -1.5, np.pi / 2, 0, False),
        (0, 4, TRACK, 20.0, 1.5, -np.pi / 2, -1, False), (0, 2, TRACK, 2.0, 0.1, 0.1, 1, False),
    ]
    c = _candidates(rows)
    c.e[c.muon] = np.sqrt(c.pt[c.muon] ** 2 + mu**2)
    parts = _particles([13] * len(rows), [0.0] * len(rows), [(1.0, 2.0, 3.0)] * len(rows))
    cols = analyse(c, parts, HardEvents(parts, np.array([5.0]), np.array([91.0]), np.zeros(1), np.zeros(1)), np.array([4]))
    assert cols["njet"][0] == 2
    np.testing.assert_allclose([cols["jet1_pt"][0], cols["jet2_pt"][0]], [20.0, 20.0])
    assert cols["rho"][0] == 0.0  # almost every cell is empty
    assert cols["met_x"][0] == pytest.approx(-c.px.sum())
    assert cols["met_y"][0] == pytest.approx(-c.py.sum())
    assert cols["iso0_ch"][0] == pytest.approx(2.0 / 45.0)


def test_analyse_selects_and_isolates() -> None:
    mu = phys.MUON_MASS
    # Event 0: two opposite-charge muons back to back, m = 90 GeV, plus a 2 GeV track and a
    # 3 GeV photon near mu0, a 1 GeV neutral hadron near mu1, a 0.4 GeV track near mu0
    # (below the isolation pT cut) and a 25 GeV jet particle far away.
    # Event 1: same-charge muons (rejected). Event 2: a single muon (rejected).
    rows = [
        (0, 0, TRACK, 45.0, 0.0, 0.0, -1, True), (0, 0, TRACK, 45.0, 0.0, np.pi, 1, True),
        (0, 0, TRACK, 2.0, 0.1, 0.1, 1, False), (0, 1, PHOTON, 3.0, -0.1, 0.05, 0, False),
        (0, 0, NEUTRAL_HADRON, 1.0, 0.2, np.pi - 0.1, 0, False),
        (0, 0, TRACK, 0.4, 0.0, 0.05, 1, False), (0, 0, PHOTON, 25.0, 2.0, np.pi / 2, 0, False),
        (1, 0, TRACK, 45.0, 0.0, 0.0, 1, True), (1, 0, TRACK, 45.0, 0.0, np.pi, 1, True),
        (2, 0, TRACK, 45.0, 0.0, 0.0, 1, True),
    ]
    c = _candidates(rows)
    c.e[c.muon] = np.sqrt(c.pt[c.muon] ** 2 + mu**2)
    parts = _particles([13] * len(rows), [0.0] * len(rows), [(1.0, 2.0, 3.0)] * len(rows))
    hard = HardEvents(parts, np.array([5.0, 6.0, 7.0]), np.array([91.0, 92.0, 93.0]), np.zeros(3), np.zeros(3))
    cols = analyse(c, parts, hard, np.array([4, 5, 6]))
    assert list(cols) == [col.name for col in ZMUMU_COLUMNS + GEN_LEVEL_COLUMNS]
    assert all(len(v) == 1 for v in cols.values())
    assert cols["mu0_charge"][0] == -1 and cols["mu1_charge"][0] == 1
    assert cols["iso0_ch"][0] == pytest.approx(2.0 / 45.0)
    assert cols["iso0_ph"][0] == pytest.approx(3.0 / 45.0)
    assert cols["iso0_nh"][0] == 0.0
    assert cols["iso1_nh"][0] == pytest.approx(1.0 / 45.0)
    assert cols["iso0"][0] == pytest.approx(5.0 / 45.0)
    assert cols["nvtx"][0] == 1  # only vertex 0 has two tracks above 0.5 GeV
    assert cols["jet1_pt"][0] == pytest.approx(25.0) and cols["njet"][0] == 1
    assert cols["rho"][0] == 0.0
    assert cols["gen_z_pt"][0] == 5.0 and cols["gen_z_mass"][0] == 91.0 and cols["n_pileup"][0] == 4
    assert cols["gen_mu0_px"][0] == 1.0
    assert cols["met_x"][0] == pytest.approx(-c.px[:7].sum())


def test_drell_yan_generator_is_seeded_and_complete() -> None:
    from flashgen.sources.zmumu.generator import (DRELL_YAN_SETTINGS, generate_drell_yan,
                                                  make_pythia, pythia_seed)

    seeds = {pythia_seed(np.random.SeedSequence(s, spawn_key=(0, i))) for s in range(3) for i in range(50)}
    assert len(seeds) == 150 and min(seeds) >= 1 and max(seeds) <= 900_000_000
    a = generate_drell_yan(make_pythia(DRELL_YAN_SETTINGS, 4242), 30)
    b = generate_drell_yan(make_pythia(DRELL_YAN_SETTINGS, 4242), 30)
    c = generate_drell_yan(make_pythia(DRELL_YAN_SETTINGS, 4243), 30)
    np.testing.assert_array_equal(a.particles.px, b.particles.px)
    np.testing.assert_array_equal(a.z_mass, b.z_mass)
    assert not np.array_equal(a.z_mass, c.z_mass)
    assert len(a) == 30 and np.all(a.z_mass > 50) and np.all(a.z_pt >= 0)
    p = a.particles
    assert not np.any(np.isin(np.abs(p.pid), (12, 14, 16)))
    np.testing.assert_array_equal(np.unique(p.event), np.arange(30))
    muons = np.abs(p.pid) == 13
    np.testing.assert_array_equal(p.charge[muons], -np.sign(p.pid[muons]))
    assert np.all(np.bincount(p.event[muons], minlength=30) >= 2)  # the Z decay muons
    np.testing.assert_allclose(p.e**2 - p.px**2 - p.py**2 - p.pz**2, p.m**2, atol=1e-3 * p.e.max())
    # The stable final state carries the beams' longitudinal momentum only approximately,
    # but the transverse momentum of an event balances up to the dropped neutrinos.
    assert np.median(np.abs(np.bincount(p.event, p.px))) < 1.0
