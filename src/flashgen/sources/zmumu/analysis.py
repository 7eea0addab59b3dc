"""From particle-flow candidates to the per-event columns of the Z→μμ dataset (docs/physics.md §1).

Selection: at least two identified muons; the two with highest reconstructed pT are μ0 (leading)
and μ1; they must have opposite charge and 50 < m(μμ) < 150 GeV. For selected events:

- nvtx: interactions (hard + pileup) with >= 2 tracks of reconstructed pT > 0.5 GeV.
- MET: minus the vector sum of the pT of all candidates (muons included).
- isolation: sum of pT of candidates with pT > 0.5 GeV within ΔR < 0.3 of the muon (the muon
  itself excluded), divided by the muon pT; total and per kind (charged, photon, neutral hadron).
- jets: anti-kT R = 0.4 from all candidates but the two selected muons and the tracks of pileup
  interactions (charged-hadron subtraction), corrected for the remaining pileup by rho times
  the jet area (:mod:`~flashgen.sources.zmumu.jets`; a choice beyond docs/physics.md, which is
  silent on pileup mitigation). MET and isolation still use all candidates, as docs/physics.md
  defines them, and keep growing with pileup.
- rho: the area-median pileup pT density of the jet inputs in |eta| < 2.5 (GeV per unit area).
- truth: generator four-momenta of the particles reconstructed as μ0/μ1, the Z/γ* pT and mass,
  the number of pileup interactions.
"""

from __future__ import annotations

import numpy as np

from .schema import JETS, SELECTED, shard_columns
from .detector import NEUTRAL_HADRON, PHOTON, TRACK, Candidates
from .generator import HardEvents
from .genlevel import gen_level
from .jets import charged_hadron_subtraction, cluster_jets, pileup_density
from .particles import Particles

__all__ = [
    "ISO_CONE",
    "ISO_PT_MIN",
    "MASS_WINDOW",
    "VERTEX_MIN_TRACKS",
    "VERTEX_TRACK_PT_MIN",
    "analyse",
    "delta_phi",
    "missing_pt",
    "n_vertices",
]

MASS_WINDOW = (50.0, 150.0)
"""Selected m(μμ) range in GeV (exclusive)."""

ISO_CONE = 0.3
"""Isolation cone radius ΔR."""

ISO_PT_MIN = 0.5
"""Candidates entering the isolation sums have pT above this (GeV)."""

VERTEX_TRACK_PT_MIN = 0.5
"""Tracks counted for vertex reconstruction have pT above this (GeV)."""

VERTEX_MIN_TRACKS = 2
"""A reconstructed vertex needs at least this many such tracks."""


def delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b`` wrapped to [-pi, pi) (rad)."""
    return (np.asarray(a) - np.asarray(b) + np.pi) % (2.0 * np.pi) - np.pi


def missing_pt(cands: Candidates, n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """MET x and y (GeV) per event: minus the vector pT sum of all candidates, ``(n_events,)``."""
    return (-np.bincount(cands.event, cands.px, minlength=n_events),
            -np.bincount(cands.event, cands.py, minlength=n_events))


def n_vertices(cands: Candidates, n_events: int) -> np.ndarray:
    """Reconstructed vertices per event: interactions with >= 2 tracks of pT > 0.5 GeV."""
    good = (cands.kind == TRACK) & (cands.pt > VERTEX_TRACK_PT_MIN)
    if not np.any(good):
        return np.zeros(n_events, dtype=np.int64)
    event, vertex = cands.event[good], cands.vertex[good].astype(np.int64)
    stride = int(vertex.max()) + 1
    keys, counts = np.unique(event * stride + vertex, return_counts=True)
    return np.bincount(keys[counts >= VERTEX_MIN_TRACKS] // stride, minlength=n_events)


def _muon_pairs(cands: Candidates, n_events: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events with >= 2 identified muons, and candidate indices of their two hardest muons."""
    mu = np.flatnonzero(cands.muon)
    mu = mu[np.lexsort((-cands.pt[mu], cands.event[mu]))]
    counts = np.bincount(cands.event[mu], minlength=n_events)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    events = np.flatnonzero(counts >= 2)
    return events, mu[first[events]], mu[first[events] + 1]


def _pair_mass(c: Candidates, i0: np.ndarray, i1: np.ndarray) -> np.ndarray:
    e = c.e[i0] + c.e[i1]
    px, py, pz = c.px[i0] + c.px[i1], c.py[i0] + c.py[i1], c.pz[i0] + c.pz[i1]
    return np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0.0, None))


def _isolation(c: Candidates, sel_of_event: np.ndarray, muon: np.ndarray,
               n_sel: int) -> dict[int, np.ndarray]:
    """Isolation sums (GeV) per kind around ``muon`` (candidate index per selected event)."""
    near = np.flatnonzero((sel_of_event[c.event] >= 0) & (c.pt > ISO_PT_MIN))
    s = sel_of_event[c.event[near]]
    m = muon[s]
    dr2 = (c.eta[near] - c.eta[m]) ** 2 + delta_phi(c.phi[near], c.phi[m]) ** 2
    inside = (dr2 < ISO_CONE**2) & (near != m)
    near, s = near[inside], s[inside]
    return {kind: np.bincount(s[c.kind[near] == kind], c.pt[near][c.kind[near] == kind],
                              minlength=n_sel)
            for kind in (TRACK, PHOTON, NEUTRAL_HADRON)}


def analyse(cands: Candidates, particles: Particles, hard: HardEvents,
            n_pileup: np.ndarray, keep_unselected: bool = False) -> dict[str, np.ndarray]:
    """Select events and compute the columns of :func:`~.columns.shard_columns`.

    Arguments:
        cands: reconstructed candidates of the batch.
        particles: the generator particles the candidates' ``source`` indices point to.
        hard: generator-level hard events of the batch (for the Z truth), ``n_events`` long.
        n_pileup: true number of pileup interactions per event, ``(n_events,)``.
        keep_unselected: return every event, with the ``selected`` column and NaN in the
            columns that need the reconstruction where it is 0.

    Returns:
        Column name -> float64 array of shape ``(n_selected,)`` (``(n_events,)`` with
        ``keep_unselected``), in storage order: the reconstructed, extra and truth columns,
        then the generator-level ones (:mod:`~flashgen.sources.zmumu.genlevel`).
    """
    n_events = len(hard)
    events, i0, i1 = _muon_pairs(cands, n_events)
    mass = _pair_mass(cands, i0, i1)
    ok = (cands.charge[i0] * cands.charge[i1] < 0) & (mass > MASS_WINDOW[0]) & (mass < MASS_WINDOW[1])
    events, i0, i1 = events[ok], i0[ok], i1[ok]
    n_sel = len(events)
    sel_of_event = np.full(n_events, -1, dtype=np.int64)
    sel_of_event[events] = np.arange(n_sel)

    met_x, met_y = missing_pt(cands, n_events)
    cols: dict[str, np.ndarray] = {}
    for name, i in (("mu0", i0), ("mu1", i1)):
        cols[f"{name}_px"], cols[f"{name}_py"] = cands.px[i], cands.py[i]
        cols[f"{name}_pz"], cols[f"{name}_e"] = cands.pz[i], cands.e[i]
    cols["nvtx"] = n_vertices(cands, n_events)[events]
    cols["met_x"], cols["met_y"] = met_x[events], met_y[events]

    iso = {}
    for k, i in ((0, i0), (1, i1)):
        sums = _isolation(cands, sel_of_event, i, n_sel)
        pt = cands.pt[i]
        iso[f"iso{k}_ch"], iso[f"iso{k}_ph"] = sums[TRACK] / pt, sums[PHOTON] / pt
        iso[f"iso{k}_nh"] = sums[NEUTRAL_HADRON] / pt
        iso[f"iso{k}"] = (sums[TRACK] + sums[PHOTON] + sums[NEUTRAL_HADRON]) / pt
    cols["iso0"], cols["iso1"] = iso["iso0"], iso["iso1"]

    for_jets = np.flatnonzero((sel_of_event[cands.event] >= 0)
                              & charged_hadron_subtraction(cands.kind, cands.vertex))
    for_jets = for_jets[(for_jets != i0[sel_of_event[cands.event[for_jets]]])
                        & (for_jets != i1[sel_of_event[cands.event[for_jets]]])]
    jet_event = sel_of_event[cands.event[for_jets]]
    rho = pileup_density(jet_event, cands.pt[for_jets], cands.eta[for_jets], cands.phi[for_jets],
                         n_sel)
    jet_pt, njet = cluster_jets(jet_event, cands.px[for_jets], cands.py[for_jets],
                                cands.pz[for_jets], cands.e[for_jets], n_sel, rho)
    for j, name in enumerate(JETS):
        cols[name] = jet_pt[:, j]

    cols["mu0_charge"], cols["mu1_charge"] = cands.charge[i0], cands.charge[i1]
    cols.update({k: v for k, v in iso.items() if k.count("_")})
    cols["njet"] = njet
    cols["rho"] = rho[:, 0]
    for name, i in (("gen_mu0", i0), ("gen_mu1", i1)):
        src = cands.source[i]
        cols[f"{name}_px"], cols[f"{name}_py"] = particles.px[src], particles.py[src]
        cols[f"{name}_pz"], cols[f"{name}_e"] = particles.pz[src], particles.e[src]
    cols["gen_z_pt"], cols["gen_z_mass"] = hard.z_pt[events], hard.z_mass[events]
    cols["n_pileup"] = n_pileup[events]
    if not keep_unselected:
        cols.update(gen_level(hard, events))  # only the selected events' generator level
        return {c.name: np.asarray(cols[c.name], dtype=np.float64) for c in shard_columns()}
    gen = gen_level(hard)
    every = {"gen_z_pt": hard.z_pt, "gen_z_mass": hard.z_mass, "n_pileup": n_pileup}
    out: dict[str, np.ndarray] = {}
    for c in shard_columns(keep_unselected=True):
        if c.name in every:
            out[c.name] = np.asarray(every[c.name], dtype=np.float64)
        elif c.name in gen:
            out[c.name] = gen[c.name]
        elif c.name == SELECTED.name:
            out[c.name] = (sel_of_event >= 0).astype(np.float64)
        else:
            full = np.full(n_events, np.nan)
            full[events] = cols[c.name]
            out[c.name] = full
    return out
