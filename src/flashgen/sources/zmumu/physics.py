"""Every number of the parametric CMS detector (docs/physics.md §1), one pure function each.

The values are those of the public Delphes CMS card. All functions take NumPy arrays that
broadcast; transverse momenta and energies are in GeV, ``eta`` is the pseudorapidity. Nothing
here draws random numbers: :mod:`~flashgen.sources.zmumu.detector` does, using these functions.

Particle classes (:func:`particle_class`):

- ``MUON``, ``ELECTRON``, ``CHARGED_HADRON``: charged, seen by the tracker.
- ``PHOTON``: ECAL.
- ``NEUTRAL_HADRON``: HCAL (neutrons, K0L, ...).
- ``LONG_LIVED_NEUTRAL``: K0S, Lambda and Xi0 (and antiparticles). They are stable in the
  generator (``ParticleDecays:tau0Max = 10`` mm, as in CMS production) and, as in the Delphes
  CMS card, leave 30 % of their energy in the ECAL and 70 % in the HCAL.
- ``INVISIBLE``: neutrinos.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHARGED_HADRON",
    "ECAL_ETA_MAX",
    "ECAL_FRACTION_LONG_LIVED",
    "ECAL_THRESHOLD",
    "ELECTRON",
    "HCAL_ETA_MAX",
    "HCAL_THRESHOLD",
    "INVISIBLE",
    "LONG_LIVED_NEUTRAL",
    "MUON",
    "MUON_ETA_MAX",
    "MUON_MASS",
    "MUON_PT_MIN",
    "NEUTRAL_HADRON",
    "PHOTON",
    "TRACKER_ETA_MAX",
    "TRACK_PT_MIN",
    "ecal_resolution",
    "hcal_resolution",
    "muon_id_efficiency",
    "particle_class",
    "track_resolution",
    "tracking_efficiency",
]

MUON, ELECTRON, CHARGED_HADRON, PHOTON, NEUTRAL_HADRON, LONG_LIVED_NEUTRAL, INVISIBLE = range(7)

MUON_MASS = 0.1056583755
"""Muon mass in GeV (PDG)."""
MUON_ETA_MAX = 2.4
"""Muon identification acceptance, |eta| <= 2.4 (:func:`muon_id_efficiency`)."""
MUON_PT_MIN = 10.0
"""Muon identification threshold, reconstructed pT > 10 GeV (:func:`muon_id_efficiency`)."""

TRACKER_ETA_MAX = 2.5
"""Tracker acceptance |eta| <= 2.5."""

TRACK_PT_MIN = 0.1
"""No track is reconstructed at or below pT = 0.1 GeV."""

ECAL_ETA_MAX = 5.0
HCAL_ETA_MAX = 5.0
"""Calorimeter acceptance (forward calorimeter included) |eta| <= 5."""

ECAL_THRESHOLD = 0.5
"""ECAL deposits below 0.5 GeV are dropped."""

HCAL_THRESHOLD = 1.0
"""HCAL deposits below 1 GeV are dropped."""

ECAL_FRACTION_LONG_LIVED = 0.3
"""Fraction of a K0S / Lambda / Xi0 energy deposited in the ECAL (the rest goes to the HCAL)."""

_NEUTRINOS = (12, 14, 16)
_LONG_LIVED = (310, 3122, 3322)


def particle_class(pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """Detector class of each particle (``MUON``, ``ELECTRON``, ... see the module docstring).

    Arguments:
        pid: PDG identifiers, shape ``(n,)``.
        charge: electric charges in units of e, shape ``(n,)``.

    Returns:
        Integer class codes, shape ``(n,)``.
    """
    apid = np.abs(np.asarray(pid))
    charged = np.asarray(charge) != 0
    return np.select(
        [apid == 13, apid == 11, np.isin(apid, _NEUTRINOS), apid == 22, charged,
         np.isin(apid, _LONG_LIVED)],
        [MUON, ELECTRON, INVISIBLE, PHOTON, CHARGED_HADRON, LONG_LIVED_NEUTRAL],
        default=NEUTRAL_HADRON,
    ).astype(np.int8)


def tracking_efficiency(cls: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Probability that a charged particle of class ``cls`` with true ``pt`` (GeV) is tracked.

    Hadrons: 0.70 (0.1 < pT <= 1) / 0.95 (pT > 1) for |eta| <= 1.5, 0.60 / 0.85 for
    1.5 < |eta| <= 2.5. Muons: 0.75 / 0.99 barrel, 0.70 / 0.98 endcap. Electrons: 0.73 / 0.95
    (1 < pT <= 100) / 0.99 (pT > 100) barrel, 0.50 / 0.83 / 0.90 endcap. Zero for pT <= 0.1,
    |eta| > 2.5 and neutral classes.
    """
    cls, pt, aeta = np.broadcast_arrays(np.asarray(cls), np.asarray(pt, dtype=np.float64),
                                        np.abs(np.asarray(eta, dtype=np.float64)))
    barrel = aeta <= 1.5
    endcap = (aeta > 1.5) & (aeta <= TRACKER_ETA_MAX)
    low = (pt > TRACK_PT_MIN) & (pt <= 1.0)
    high = pt > 1.0
    very_high = pt > 100.0
    eff = np.zeros(pt.shape)
    #            class            barrel low / high          endcap low / high
    for c, (bl, bh, el, eh) in ((CHARGED_HADRON, (0.70, 0.95, 0.60, 0.85)),
                                (MUON, (0.75, 0.99, 0.70, 0.98)),
                                (ELECTRON, (0.73, 0.95, 0.50, 0.83))):
        k = cls == c
        eff[k & barrel & low], eff[k & barrel & high] = bl, bh
        eff[k & endcap & low], eff[k & endcap & high] = el, eh
    electron = cls == ELECTRON
    eff[electron & barrel & very_high] = 0.99
    eff[electron & endcap & very_high] = 0.90
    return eff


# (constant term, pT coefficient) of sqrt(a^2 + pT^2 b^2) per |eta| bin <= 0.5 / <= 1.5 / <= 2.5.
_TRACK_RESOLUTION = {
    CHARGED_HADRON: ((0.01, 1.5e-4), (0.015, 2.5e-4), (0.025, 5.5e-4)),
    MUON: ((0.01, 1.0e-4), (0.015, 1.5e-4), (0.025, 3.5e-4)),
    ELECTRON: ((0.03, 1.3e-3), (0.05, 1.7e-3), (0.15, 3.1e-3)),
}


def track_resolution(cls: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Relative Gaussian track pT resolution ``sigma(pT)/pT`` (dimensionless).

    ``sqrt(a^2 + pT^2 b^2)`` with ``(a, b)`` per class and |eta| bin (<= 0.5, <= 1.5, <= 2.5);
    hadrons (0.01, 1.5e-4), (0.015, 2.5e-4), (0.025, 5.5e-4); muons (0.01, 1.0e-4),
    (0.015, 1.5e-4), (0.025, 3.5e-4); electrons (0.03, 1.3e-3), (0.05, 1.7e-3),
    (0.15, 3.1e-3). Zero outside the tracker and for neutral classes.
    """
    cls, pt, aeta = np.broadcast_arrays(np.asarray(cls), np.asarray(pt, dtype=np.float64),
                                        np.abs(np.asarray(eta, dtype=np.float64)))
    res = np.zeros(pt.shape)
    bins = [aeta <= 0.5, (aeta > 0.5) & (aeta <= 1.5), (aeta > 1.5) & (aeta <= TRACKER_ETA_MAX)]
    for c, params in _TRACK_RESOLUTION.items():
        k = cls == c
        for in_bin, (a, b) in zip(bins, params):
            sel = k & in_bin
            res[sel] = np.hypot(a, pt[sel] * b)
    return res


def ecal_resolution(energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Absolute ECAL energy resolution ``sigma(E)`` in GeV for a deposit of ``energy`` GeV.

    ``(1 + 0.64 eta^2) sqrt(0.008^2 E^2 + 0.11^2 E + 0.40^2)`` for |eta| <= 1.5,
    ``(2.16 + 5.6 (|eta| - 2)^2) sqrt(same)`` for 1.5 < |eta| <= 2.5 and
    ``sqrt(0.107^2 E^2 + 2.08^2 E)`` up to |eta| = 5; zero beyond.
    """
    e, aeta = np.broadcast_arrays(np.clip(np.asarray(energy, dtype=np.float64), 0.0, None),
                                  np.abs(np.asarray(eta, dtype=np.float64)))
    central = np.sqrt(0.008**2 * e**2 + 0.11**2 * e + 0.40**2)
    return np.select(
        [aeta <= 1.5, aeta <= 2.5, aeta <= ECAL_ETA_MAX],
        [(1.0 + 0.64 * aeta**2) * central, (2.16 + 5.6 * (aeta - 2.0) ** 2) * central,
         np.sqrt(0.107**2 * e**2 + 2.08**2 * e)],
        default=0.0,
    )


def hcal_resolution(energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Absolute HCAL energy resolution ``sigma(E)`` in GeV for a deposit of ``energy`` GeV.

    ``sqrt(0.05^2 E^2 + 1.5^2 E)`` for |eta| <= 3 and ``sqrt(0.13^2 E^2 + 2.7^2 E)`` up to
    |eta| = 5; zero beyond.
    """
    e, aeta = np.broadcast_arrays(np.clip(np.asarray(energy, dtype=np.float64), 0.0, None),
                                  np.abs(np.asarray(eta, dtype=np.float64)))
    return np.select(
        [aeta <= 3.0, aeta <= HCAL_ETA_MAX],
        [np.sqrt(0.05**2 * e**2 + 1.5**2 * e), np.sqrt(0.13**2 * e**2 + 2.7**2 * e)],
        default=0.0,
    )


def muon_id_efficiency(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Muon identification efficiency on top of tracking, at reconstructed ``pt`` (GeV).

    0 for pT <= 10 GeV or |eta| > 2.4; 0.95 up to 1 TeV; ``0.95 exp(0.5 - 5e-4 pT)`` above.
    """
    pt, aeta = np.broadcast_arrays(np.asarray(pt, dtype=np.float64),
                                   np.abs(np.asarray(eta, dtype=np.float64)))
    eff = np.where(pt <= 1000.0, 0.95, 0.95 * np.exp(0.5 - 5e-4 * pt))
    return np.where((pt > MUON_PT_MIN) & (aeta <= MUON_ETA_MAX), eff, 0.0)
