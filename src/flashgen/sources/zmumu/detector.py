"""The parametric CMS detector and particle flow, vectorised over all particles of a batch.

Input: stable visible particles of the hard events and of every pileup interaction
(:class:`~flashgen.sources.zmumu.particles.Particles`). Output: reconstructed particle-flow
candidates (:class:`Candidates`):

- **tracks** (``kind = TRACK``): charged particles with |eta| <= 2.5, kept with the tracking
  efficiency of their class and pT-smeared with a Gaussian of the class' relative resolution
  (a track whose smeared pT is not positive is lost); eta and phi are unchanged and the energy is
  ``sqrt(p^2 + m^2)`` with the generator mass (muons: the PDG muon mass, on shell).
- **ECAL photons** (``kind = PHOTON``): photons, electrons that were not tracked and 30 % of the
  energy of K0S / Lambda / Xi0.
- **HCAL neutral hadrons** (``kind = NEUTRAL_HADRON``): neutral hadrons, charged hadrons that
  were not tracked and 70 % of the energy of K0S / Lambda / Xi0.

As in Delphes' particle flow, a charged particle that is not tracked still leaves its energy in
the calorimeter (its tracked energy would otherwise be subtracted); muons are minimum ionising
and leave nothing. Each deposit is smeared with the calorimeter's resolution sigma(E) and
dropped below the threshold (0.5 GeV ECAL, 1 GeV HCAL); there is no tower granularity, so
deposits of different particles are never merged. The smearing is log-normal with mean E and
standard deviation sigma(E), as Delphes' calorimeters do: a Gaussian would give negative
energies and, cut at the threshold, bias soft deposits upwards (+17 % for central pileup photons),
while the log-normal keeps the mean. Calorimeter candidates are massless and keep
the particle's direction. Identified muons are the muon tracks that pass the muon-ID efficiency
(evaluated at the reconstructed pT). All numbers live in :mod:`~flashgen.sources.zmumu.physics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from . import physics as phys
from .particles import Particles, kinematics

__all__ = ["Candidates", "NEUTRAL_HADRON", "PHOTON", "TRACK", "reconstruct", "smear_lognormal"]

TRACK, PHOTON, NEUTRAL_HADRON = 0, 1, 2
"""Candidate kinds: charged track, ECAL photon, HCAL neutral hadron."""


@dataclass
class Candidates:
    """Reconstructed particle-flow candidates of a batch of events, ``(n_candidates,)`` each.

    Attributes:
        event, vertex: event in the batch and interaction in the event (as in ``Particles``).
        kind: ``TRACK``, ``PHOTON`` or ``NEUTRAL_HADRON`` (int8).
        px, py, pz, e: reconstructed four-momentum in GeV.
        pt, eta, phi: reconstructed pT (GeV), pseudorapidity and azimuth (rad).
        charge: charge in units of e (0 for calorimeter candidates).
        muon: whether the candidate is an identified muon.
        source: index of the generator particle it comes from (into the input ``Particles``).
    """

    event: np.ndarray
    vertex: np.ndarray
    kind: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    charge: np.ndarray
    muon: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)

    @staticmethod
    def concat(parts: Sequence[Candidates]) -> Candidates:
        """All candidates of ``parts``, one after the other."""
        return Candidates(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                             for f in fields(Candidates)})


def _tracks(p: Particles, cls: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray,
            rng: np.random.Generator) -> tuple[Candidates, np.ndarray]:
    """Track candidates, and the indices of charged particles that were *not* tracked."""
    charged = np.flatnonzero(np.isin(cls, (phys.MUON, phys.ELECTRON, phys.CHARGED_HADRON)))
    c, ptc, etac = cls[charged], pt[charged], eta[charged]
    tracked = rng.random(len(charged)) < phys.tracking_efficiency(c, ptc, etac)
    scale = 1.0 + phys.track_resolution(c, ptc, etac) * rng.standard_normal(len(charged))
    tracked &= scale > 0
    src = charged[tracked]
    scale = scale[tracked]
    px, py, pz = p.px[src] * scale, p.py[src] * scale, p.pz[src] * scale
    is_muon = cls[src] == phys.MUON
    mass = np.where(is_muon, phys.MUON_MASS, p.m[src])
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    pt_reco = pt[src] * scale
    muon = np.zeros(len(src), dtype=bool)
    muon[is_muon] = rng.random(int(is_muon.sum())) < phys.muon_id_efficiency(pt_reco[is_muon],
                                                                              eta[src][is_muon])
    cands = Candidates(p.event[src], p.vertex[src], np.full(len(src), TRACK, dtype=np.int8),
                       px, py, pz, e, pt_reco, eta[src], phi[src], p.charge[src], muon, src)
    return cands, charged[~tracked]


def smear_lognormal(mean: np.ndarray, sigma: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Log-normal values with mean ``mean`` and standard deviation ``sigma`` from normals ``z``.

    ``exp(a + b z)`` with ``b = sqrt(log(1 + (sigma/mean)^2))`` and ``a = log(mean) - b^2/2``;
    positive, and equal to ``mean`` where ``sigma = 0``. Arrays of shape ``(n,)``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.sqrt(np.log1p((np.asarray(sigma) / mean) ** 2))
        out = mean * np.exp(b * np.asarray(z) - 0.5 * b**2)
    return np.where(mean > 0, out, 0.0)


def _deposits(p: Particles, src: np.ndarray, fraction: np.ndarray, eta: np.ndarray,
              phi: np.ndarray, kind: int, rng: np.random.Generator) -> Candidates:
    """Smeared calorimeter deposits of ``fraction`` of the energy of particles ``src``."""
    if kind == PHOTON:
        eta_max, threshold, resolution = phys.ECAL_ETA_MAX, phys.ECAL_THRESHOLD, phys.ecal_resolution
    else:
        eta_max, threshold, resolution = phys.HCAL_ETA_MAX, phys.HCAL_THRESHOLD, phys.hcal_resolution
    inside = np.abs(eta[src]) <= eta_max
    src, fraction = src[inside], fraction[inside]
    eta_s, phi_s = eta[src], phi[src]
    energy = smear_lognormal(fraction * p.e[src], resolution(fraction * p.e[src], eta_s),
                             rng.standard_normal(len(src)))
    keep = energy >= threshold
    src, energy, eta_s, phi_s = src[keep], energy[keep], eta_s[keep], phi_s[keep]
    pt = energy / np.cosh(eta_s)
    n = len(src)
    return Candidates(p.event[src], p.vertex[src], np.full(n, kind, dtype=np.int8),
                      pt * np.cos(phi_s), pt * np.sin(phi_s), pt * np.sinh(eta_s), energy, pt,
                      eta_s, phi_s, np.zeros(n), np.zeros(n, dtype=bool), src)


def reconstruct(particles: Particles, rng: np.random.Generator) -> Candidates:
    """Run the detector and particle flow on ``particles``.

    Arguments:
        particles: stable visible particles of hard events and pileup, ``(n_particles,)``.
        rng: generator for efficiencies and smearing (consumed in a fixed order).

    Returns:
        Candidates: tracks, then ECAL photons, then HCAL neutral hadrons.
    """
    cls = phys.particle_class(particles.pid, particles.charge)
    pt, eta, phi = kinematics(particles.px, particles.py, particles.pz)
    tracks, untracked = _tracks(particles, cls, pt, eta, phi, rng)
    ucls = cls[untracked]
    long_lived = np.flatnonzero(cls == phys.LONG_LIVED_NEUTRAL)
    ecal_src = np.concatenate([np.flatnonzero(cls == phys.PHOTON),
                               untracked[ucls == phys.ELECTRON], long_lived])
    ecal_frac = np.ones(len(ecal_src))
    ecal_frac[len(ecal_src) - len(long_lived):] = phys.ECAL_FRACTION_LONG_LIVED
    hcal_src = np.concatenate([np.flatnonzero(cls == phys.NEUTRAL_HADRON),
                               untracked[ucls == phys.CHARGED_HADRON], long_lived])
    hcal_frac = np.ones(len(hcal_src))
    hcal_frac[len(hcal_src) - len(long_lived):] = 1.0 - phys.ECAL_FRACTION_LONG_LIVED
    ecal = _deposits(particles, ecal_src, ecal_frac, eta, phi, PHOTON, rng)
    hcal = _deposits(particles, hcal_src, hcal_frac, eta, phi, NEUTRAL_HADRON, rng)
    return Candidates.concat([tracks, ecal, hcal])
