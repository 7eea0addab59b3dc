"""Flat particle arrays for many events at once (the currency between generator and detector).

A :class:`Particles` holds one entry per particle of a batch of events: which event and which
interaction of that event it belongs to (0: the hard process, 1..k: the pileup interactions),
its PDG id, charge and four-momentum. Keeping particles flat (not one Python object per
particle) lets the detector work on whole batches with NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["Particles", "kinematics"]


@dataclass
class Particles:
    """Final-state particles of a batch of events, shape ``(n_particles,)`` per field.

    Attributes:
        event: index of the event in the batch (int64).
        vertex: interaction within the event, 0 hard process, 1..k pileup (int32).
        pid: PDG identifier (int32).
        charge: electric charge in units of e (float64).
        px, py, pz, e: four-momentum in GeV (float64).
        m: generator mass in GeV (float64).
    """

    event: np.ndarray
    vertex: np.ndarray
    pid: np.ndarray
    charge: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    m: np.ndarray

    def __len__(self) -> int:
        return len(self.pid)

    @staticmethod
    def concat(parts: Sequence[Particles]) -> Particles:
        """All particles of ``parts``, one after the other."""
        return Particles(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                            for f in fields(Particles)})


def kinematics(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum (GeV), pseudorapidity and azimuth (rad) of momenta ``(n,)``.

    Particles along the beam (pT = 0) get ``eta = +-inf``, outside every acceptance.
    """
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    eta = np.where(pt > 0, eta, np.copysign(np.inf, pz))
    return pt, eta, np.arctan2(py, px)
