"""Anti-kT jets from particle-flow candidates with pileup mitigation, many events per FastJet call.

docs/physics.md §1 defines the jets (anti-kT R = 0.4 from the candidates but the two muons,
|eta| < 4.7, pT > 10 GeV, the five hardest) and is silent on pileup. Without mitigation, pileup
20 gives ~40 jets above 10 GeV per event. As CMS does (and Delphes' CMS pileup card with its
``TrackPileUpSubtractor``, ``FastJetGridMedianEstimator`` and ``JetPileUpSubtractor``), jets
are corrected in two steps, a choice beyond the letter of docs/physics.md:

1. **Charged-hadron subtraction** (:func:`charged_hadron_subtraction`): tracks from a pileup
   interaction are removed from the jet inputs. Vertex association is assumed perfect (each
   track knows its interaction); Delphes does the same for tracks farther than its z resolution
   (0.1 mm) from the hard vertex, which with a 5 cm luminous region is nearly all of them.
   Calorimeter candidates carry no vertex and all stay.
2. **Area-median subtraction** of the remaining (neutral, and beyond the tracker all) pileup
   (:func:`pileup_density`, :func:`subtract_pileup`): per event, rho is the median of
   ``sum pT / area`` over a grid of cells of 0.5 in eta by 2 pi / 12 in phi (CMS'
   ``fixedGridRho`` uses 0.55), empty cells included, separately in the tracker region
   |eta| < 2.5 and in the forward region 2.5 <= |eta| < 5 (Delphes' CMS card also splits at 2.5):
   after charged-hadron subtraction the forward density is ~1.7 times the central one, because
   charged pileup there cannot be removed. Each jet loses ``rho A`` from its pT, with A = pi R^2
   (FastJet's awkward interface gives no jet areas; the active area of a hard anti-kT jet is
   close to pi R^2) and rho the mix of the two regions' values weighted by the fraction of the
   jet's disk on either side of |eta| = 2.5. Jets below 10 GeV after the correction are dropped.

The median over 0.5-wide cells tracks the pileup density (central rho ~ 0.5 GeV per
interaction) and stays small without pileup (~0.8 GeV, the underlying event), where Delphes'
1.0 x 1.0 cells give ~1.5-2 GeV. The dataset stores the central rho (column ``rho``); the
forward one is only used for the jets. What area-median subtraction cannot remove are local
upward fluctuations of the neutral pileup (at pileup 20 a random R = 0.4 cone holds, after
charged-hadron subtraction, 4.7 +- 3.8 GeV of pileup pT at |eta| < 2 and 8.7 +- 4.9 GeV at
2.9 < |eta| < 4.3): some pure-pileup jets pass the thresholds, as in CMS before pileup-jet
identification.
"""

from __future__ import annotations

import numpy as np

from ...extras import require
from .detector import TRACK
from .particles import kinematics

ak = require("awkward", "zmumu", deferred=True)

__all__ = [
    "JET_AREA",
    "JET_ETA_MAX",
    "JET_PT_MIN",
    "JET_R",
    "N_JETS",
    "RHO_CELLS_PHI",
    "RHO_CELL_ETA",
    "RHO_ETA_MAX",
    "RHO_TRACKER_ETA",
    "central_fraction",
    "charged_hadron_subtraction",
    "cluster_jets",
    "leading_jets",
    "pileup_density",
    "subtract_pileup",
]

JET_R = 0.4
"""Anti-kT distance parameter."""

JET_PT_MIN = 10.0
"""Minimum jet pT in GeV (after the pileup correction when there is one)."""

JET_ETA_MAX = 4.7
"""Maximum jet |eta|."""

N_JETS = 5
"""Number of leading jets stored."""

JET_AREA = np.pi * JET_R**2
"""Jet area A in the (eta, phi) plane used for the pileup correction (pi R^2)."""

RHO_CELL_ETA = 0.5
"""Width in eta of the cells of the rho grid."""

RHO_CELLS_PHI = 12
"""Number of cells of the rho grid in phi (width 2 pi / 12 = 0.52 rad)."""

RHO_ETA_MAX = 5.0
"""The rho grid covers |eta| < 5 (the calorimeter acceptance)."""

RHO_TRACKER_ETA = 2.5
"""Boundary between the central (tracker) and forward regions of rho, in |eta|."""

_N_ETA = round(2 * RHO_ETA_MAX / RHO_CELL_ETA)
_CELL_AREA = RHO_CELL_ETA * 2.0 * np.pi / RHO_CELLS_PHI
# Eta strips of the grid (from -5 to 5) whose centre is inside the tracker region.
_CENTRAL_STRIPS = np.abs(-RHO_ETA_MAX + (np.arange(_N_ETA) + 0.5) * RHO_CELL_ETA) < RHO_TRACKER_ETA


def charged_hadron_subtraction(kind: np.ndarray, vertex: np.ndarray) -> np.ndarray:
    """Which candidates stay jet inputs after charged-hadron subtraction (CHS).

    Arguments:
        kind: candidate kind (``TRACK``, ``PHOTON``, ``NEUTRAL_HADRON``), ``(n,)``.
        vertex: interaction each candidate comes from, 0 the hard one, ``(n,)``.

    Returns:
        Boolean mask ``(n,)``: False for tracks from pileup interactions (perfect vertex
        association), True for hard-interaction tracks and every calorimeter candidate.
    """
    return ~((np.asarray(kind) == TRACK) & (np.asarray(vertex) != 0))


def pileup_density(event: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray,
                   n_events: int) -> np.ndarray:
    """Area-median pileup pT density rho of each event, central and forward.

    The plane |eta| < 5 is cut into cells of :data:`RHO_CELL_ETA` x 2 pi / :data:`RHO_CELLS_PHI`;
    rho of a region is the median over its cells (empty ones count as zero) of the cell's
    ``sum pT / area``. Inputs with |eta| >= 5 are ignored.

    Arguments:
        event: event index of each input, ``(n,)``, in ``0 .. n_events - 1``.
        pt, eta, phi: transverse momentum (GeV), pseudorapidity and azimuth (rad), ``(n,)``.
        n_events: number of events.

    Returns:
        rho in GeV per unit (eta, phi) area, ``(n_events, 2)``: column 0 for |eta| < 2.5,
        column 1 for 2.5 <= |eta| < 5.
    """
    eta = np.asarray(eta, dtype=np.float64)
    inside = np.abs(eta) < RHO_ETA_MAX
    i_eta = ((eta[inside] + RHO_ETA_MAX) / RHO_CELL_ETA).astype(np.int64).clip(0, _N_ETA - 1)
    # Azimuth in [-pi, pi] (arctan2) to a cell; phi = pi lands in the last cell.
    i_phi = ((np.asarray(phi)[inside] + np.pi) * (RHO_CELLS_PHI / (2.0 * np.pi))).astype(np.int64)
    i_phi = i_phi.clip(0, RHO_CELLS_PHI - 1)
    cell = (np.asarray(event)[inside] * _N_ETA + i_eta) * RHO_CELLS_PHI + i_phi
    density = np.bincount(cell, np.asarray(pt)[inside], minlength=n_events * _N_ETA * RHO_CELLS_PHI)
    density = density.reshape(n_events, _N_ETA, RHO_CELLS_PHI) / _CELL_AREA
    rho = np.empty((n_events, 2))
    rho[:, 0] = np.median(density[:, _CENTRAL_STRIPS].reshape(n_events, -1), axis=1)
    rho[:, 1] = np.median(density[:, ~_CENTRAL_STRIPS].reshape(n_events, -1), axis=1)
    return rho


def central_fraction(abs_eta: np.ndarray) -> np.ndarray:
    """Fraction of a disk of radius R = 0.4 centred at ``|eta|`` that lies in |eta| < 2.5.

    The area of a circular segment: with ``h = (2.5 - |eta|) / R`` clipped to [-1, 1], the
    fraction is ``1 - (arccos h - h sqrt(1 - h^2)) / pi``; 1 well inside, 1/2 on the boundary.
    """
    h = np.clip((RHO_TRACKER_ETA - np.asarray(abs_eta, dtype=np.float64)) / JET_R, -1.0, 1.0)
    return 1.0 - (np.arccos(h) - h * np.sqrt(1.0 - h * h)) / np.pi


def subtract_pileup(pt: np.ndarray, eta: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Pileup-corrected jet pT ``pT - rho A`` (GeV), ``(n_jets,)``.

    Arguments:
        pt, eta: jet pT (GeV) and pseudorapidity, ``(n_jets,)``.
        rho: ``(n_jets, 2)`` central and forward rho of each jet's event (GeV per unit area),
            mixed by :func:`central_fraction` of the jet.
    """
    f = central_fraction(np.abs(eta))
    return np.asarray(pt) - JET_AREA * (f * rho[:, 0] + (1.0 - f) * rho[:, 1])


def cluster_jets(event: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray,
                 n_events: int, rho: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """pT of the five hardest jets of each event and the number of jets: :func:`leading_jets`
    without the directions. Returns ``(jet_pt (n_events, 5), njet (n_events,))``."""
    pt, _, _, njet = leading_jets(event, px, py, pz, e, n_events, rho)
    return pt, njet


def leading_jets(event: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray,
                 n_events: int, rho: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cluster anti-kT R = 0.4 jets in each of ``n_events`` events.

    Arguments:
        event: event index of each input, ``(n,)``, in ``0 .. n_events - 1`` (any order).
        px, py, pz, e: input four-momenta in GeV, ``(n,)``.
        n_events: number of events (events without inputs get no jets).
        rho: pileup densities ``(n_events, 2)`` from :func:`pileup_density` to subtract
            (:func:`subtract_pileup`) before the pT cut; None for no correction.

    Returns:
        ``(jet_pt, jet_eta, jet_phi, njet)``: pT (GeV), pseudorapidity and azimuth (rad) of the
        five hardest jets with |eta| < 4.7 and (corrected) pT > 10 GeV, shape ``(n_events, 5)``,
        zero where absent; and the number of such jets, ``(n_events,)``.
    """
    fastjet = require("fastjet", "zmumu")

    # FastJet prints a banner to stdout on its first clustering; a null stream silences it.
    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    jet_pt = np.zeros((n_events, N_JETS))
    jet_eta, jet_phi = np.zeros((n_events, N_JETS)), np.zeros((n_events, N_JETS))
    njet = np.zeros(n_events, dtype=np.int64)
    if n_events == 0:
        return jet_pt, jet_eta, jet_phi, njet
    order = np.argsort(event, kind="stable")
    counts = np.bincount(event, minlength=n_events)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.ascontiguousarray(v[order], dtype=np.float64))
         for v in (px, py, pz, e)],
        ["px", "py", "pz", "E"])
    inputs = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), record))
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)
    # The correction only lowers pT, so jets below the threshold before it never pass after.
    jets = fastjet.ClusterSequence(inputs, jetdef).inclusive_jets(JET_PT_MIN)
    jcounts = ak.num(jets.px).to_numpy()
    jet_event = np.repeat(np.arange(n_events), jcounts)
    pt, eta, phi = kinematics(ak.flatten(jets.px).to_numpy(), ak.flatten(jets.py).to_numpy(),
                              ak.flatten(jets.pz).to_numpy())
    if rho is not None:
        pt = subtract_pileup(pt, eta, np.asarray(rho)[jet_event])
    keep = (np.abs(eta) < JET_ETA_MAX) & (pt > JET_PT_MIN)
    jet_event, pt, eta, phi = jet_event[keep], pt[keep], eta[keep], phi[keep]
    njet = np.bincount(jet_event, minlength=n_events)
    # Rank of each jet within its event by decreasing pT.
    order = np.lexsort((-pt, jet_event))
    jet_event, pt, eta, phi = jet_event[order], pt[order], eta[order], phi[order]
    first = np.concatenate([[0], np.cumsum(njet)[:-1]])
    rank = np.arange(len(pt)) - first[jet_event]
    top = rank < N_JETS
    jet_pt[jet_event[top], rank[top]] = pt[top]
    jet_eta[jet_event[top], rank[top]] = eta[top]
    jet_phi[jet_event[top], rank[top]] = phi[top]
    return jet_pt, jet_eta, jet_phi, njet
