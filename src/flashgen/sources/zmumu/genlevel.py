"""Generator-level content of a Z→μμ event: what a flash simulation is conditioned on.

Computed from the hard interaction alone (no pileup, no detector), for every generated event:

- the two muons of the Z decay: the two final-state muons (after photon radiation) of highest
  pT, ordered by pT (``genmu0`` leading);
- generator-level jets: anti-kT R = 0.4 on the hard interaction's stable visible particles but
  those two muons (as the reconstructed jets leave out the selected muons), |eta| < 4.7,
  pT > 10 GeV, the five hardest (pT, eta, phi; zero where absent) and their count;
- the generator-level missing transverse momentum: the vector sum of the neutrinos' pT;
- the Z/γ* pT and mass (:data:`~flashgen.sources.zmumu.schema.TRUTH_COLUMNS`) and the
  number of pileup interactions the full simulation adds (Poisson of the mean pileup).

The reconstructed columns' truth (``gen_mu0_*``: the particle reconstructed as μ0) needs the
detector and exists only for selected events; the columns here exist for all events, which
is what a flash simulation that also learns the selection efficiency needs.
"""

from __future__ import annotations

import numpy as np

from .schema import GEN_JETS, GEN_LEVEL_COLUMNS, GEN_MUONS
from .generator import HardEvents
from .jets import leading_jets
from .particles import kinematics

__all__ = ["gen_level"]


def _z_muons(hard: HardEvents) -> tuple[np.ndarray, np.ndarray]:
    """Particle indices of the two hardest final-state muons of each event, ``(n,)`` each; -1
    where an event has fewer (never in Drell-Yan Z→μμ; hand-made test events)."""
    p = hard.particles
    n = len(hard)
    mu = np.flatnonzero(np.abs(p.pid) == 13)
    pt = np.hypot(p.px[mu], p.py[mu])
    mu = mu[np.lexsort((-pt, p.event[mu]))]
    counts = np.bincount(p.event[mu], minlength=n)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    leading, second = np.full(n, -1), np.full(n, -1)
    leading[counts >= 1] = mu[first[counts >= 1]]
    second[counts >= 2] = mu[first[counts >= 2] + 1]
    return leading, second


def gen_level(hard: HardEvents, events: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The :data:`GEN_LEVEL_COLUMNS` of the events ``events`` (indices into ``hard``; default
    all), float64 arrays ``(len(events),)``. Only those events' jets are clustered."""
    p = hard.particles
    n = len(hard)
    events = np.arange(n) if events is None else np.asarray(events, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)  # position of each event of hard in the output
    slot[events] = np.arange(len(events))
    cols: dict[str, np.ndarray] = {}
    i0, i1 = _z_muons(hard)
    for name, i in zip(GEN_MUONS, (i0[events], i1[events])):
        pt, eta, phi = kinematics(p.px[i], p.py[i], p.pz[i])
        for key, values in (("pt", pt), ("eta", eta), ("phi", phi), ("charge", p.charge[i])):
            cols[f"{name}_{key}"] = np.where(i >= 0, values, np.nan)
    rest = np.ones(len(p), dtype=bool)
    rest[i0[i0 >= 0]] = rest[i1[i1 >= 0]] = False
    rest = np.flatnonzero(rest & (p.vertex == 0) & (slot[p.event] >= 0))
    pt, eta, phi, njet = leading_jets(slot[p.event[rest]], p.px[rest], p.py[rest], p.pz[rest], p.e[rest],
                                      len(events))
    cols["ngenjet"] = njet
    for k, name in enumerate(GEN_JETS):
        cols[f"{name}_pt"], cols[f"{name}_eta"], cols[f"{name}_phi"] = pt[:, k], eta[:, k], phi[:, k]
    cols["genmet_x"], cols["genmet_y"] = hard.nu_px[events], hard.nu_py[events]
    return {c.name: np.asarray(cols[c.name], dtype=np.float64) for c in GEN_LEVEL_COLUMNS}
