"""Single-electron detector response: efficiency and log-normal pT smearing (Delphes CMS card).

Truth ``(pT, eta, phi)`` -> detected? and reconstructed ``(pT', eta', phi')``. The electron is
detected with the tracking efficiency of :func:`efficiency`; its pT is smeared log-normally with
mean ``pT`` and standard deviation ``res * pT`` (``res`` from :func:`resolution`, capped at 1),
exactly as Delphes' ``MomentumSmearing`` does; eta and phi are unchanged. Everything is exact
and vectorised, so conditional fidelity can be tested at any input point.

Two datasets (REFERENCE.md, after the single-electron cWGAN-GP study):

- A: one fixed input ``pT = 4.25 GeV, eta = 2.5, phi = 1.5`` repeated.
- B: ``p ~ U[0, 20] GeV``, ``eta ~ U[-2.5, 2.5]``, ``phi ~ U[0, 2 pi)``, ``pT = p / cosh(eta)``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..data import Column, EventTable
from ..errors import FlashgenError

__all__ = [
    "DATASET_A",
    "efficiency",
    "response_cdf",
    "resolution",
    "simulate_electrons",
    "smear_parameters",
]

DATASET_A = (4.25, 2.5, 1.5)
"""The fixed input ``(pT/GeV, eta, phi/rad)`` of dataset A."""

ELECTRON_COLUMNS = [
    Column("gen_pt", "GeV", "true transverse momentum"),
    Column("gen_eta", "", "true pseudorapidity"),
    Column("gen_phi", "rad", "true azimuth"),
    Column("detected", "", "1 if the electron is reconstructed, else 0"),
    Column("pt", "GeV", "reconstructed transverse momentum (NaN if not detected)", nullable=True),
    Column("eta", "", "reconstructed pseudorapidity (NaN if not detected)", nullable=True),
    Column("phi", "rad", "reconstructed azimuth (NaN if not detected)", nullable=True),
]


def efficiency(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Exact electron tracking efficiency at ``pt`` (GeV) and ``eta``; arrays broadcast.

    Barrel (|eta| <= 1.5): 0.73 for 0.1 < pT <= 1, 0.95 for 1 < pT <= 100, 0.99 above;
    endcap (1.5 < |eta| <= 2.5): 0.50 / 0.83 / 0.90; zero for pT <= 0.1 or |eta| > 2.5.
    """
    pt, aeta = np.broadcast_arrays(np.asarray(pt, dtype=np.float64), np.abs(np.asarray(eta, dtype=np.float64)))
    barrel = aeta <= 1.5
    endcap = (aeta > 1.5) & (aeta <= 2.5)
    low = (pt > 0.1) & (pt <= 1.0)
    mid = (pt > 1.0) & (pt <= 100.0)
    high = pt > 100.0
    eff = np.zeros(pt.shape)
    eff[barrel & low], eff[barrel & mid], eff[barrel & high] = 0.73, 0.95, 0.99
    eff[endcap & low], eff[endcap & mid], eff[endcap & high] = 0.50, 0.83, 0.90
    return eff


def resolution(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Relative pT resolution ``sigma(pT)/pT`` of electrons, capped at 1 (zero for pT <= 0.1)."""
    pt, aeta = np.broadcast_arrays(np.asarray(pt, dtype=np.float64), np.abs(np.asarray(eta, dtype=np.float64)))
    res = np.select(
        [aeta <= 0.5, aeta <= 1.5, aeta <= 2.5],
        [np.hypot(0.03, pt * 1.3e-3), np.hypot(0.05, pt * 1.7e-3), np.hypot(0.15, pt * 3.1e-3)],
        default=0.0,
    )
    return np.minimum(np.where(pt > 0.1, res, 0.0), 1.0)


def smear_parameters(pt: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parameters ``(a, b)`` of the log-normal response: ``log pT' ~ N(a, b)``.

    ``b = sqrt(log(1 + res^2))`` and ``a = log(pT) - b^2 / 2``, so ``E[pT'] = pT`` and
    ``std[pT'] = res * pT``.
    """
    b = np.sqrt(np.log1p(resolution(pt, eta) ** 2))
    with np.errstate(divide="ignore"):
        a = np.log(np.asarray(pt, dtype=np.float64)) - 0.5 * b**2
    return a, b


def response_cdf(x: np.ndarray, pt: float, eta: float) -> np.ndarray:
    """Exact CDF of the reconstructed pT' (GeV) of a *detected* electron with true ``pt, eta``."""
    a, b = smear_parameters(np.float64(pt), np.float64(eta))
    x = np.asarray(x, dtype=np.float64)
    if b == 0:
        return (x >= pt).astype(np.float64)
    with np.errstate(divide="ignore"):
        return special.ndtr((np.log(x) - a) / b)


def simulate_electrons(n_events: int, seed: int, fixed: tuple[float, float, float] | None = None) -> EventTable:
    """Simulate ``n_events`` electrons (dataset B, or dataset A-like with ``fixed``).

    Arguments:
        n_events: number of electrons.
        seed: numpy generator seed; the same seed gives the same table.
        fixed: ``(pT/GeV, eta, phi/rad)`` to repeat instead of drawing dataset B's inputs.

    Returns:
        A table with the columns of ``ELECTRON_COLUMNS``.
    """
    rng = np.random.default_rng(seed)
    if fixed is not None:
        pt0, eta0, phi0 = (float(v) for v in fixed)
        if not (pt0 > 0 and np.isfinite(pt0) and np.isfinite(eta0) and np.isfinite(phi0)):
            raise FlashgenError(f"--fixed needs a positive pT and finite eta, phi; got {fixed}")
        pt = np.full(n_events, pt0)
        eta = np.full(n_events, eta0)
        phi = np.full(n_events, phi0)
    else:
        p = rng.uniform(0.0, 20.0, n_events)
        eta = rng.uniform(-2.5, 2.5, n_events)
        phi = rng.uniform(0.0, 2 * np.pi, n_events)
        pt = p / np.cosh(eta)
    detected = rng.random(n_events) < efficiency(pt, eta)
    a, b = smear_parameters(pt, eta)
    z = rng.standard_normal(n_events)
    with np.errstate(invalid="ignore"):
        pt_reco = np.where(detected, np.exp(a + b * z), np.nan)
    data = {
        "gen_pt": pt,
        "gen_eta": eta,
        "gen_phi": phi,
        "detected": detected.astype(np.int8),
        "pt": pt_reco,
        "eta": np.where(detected, eta, np.nan),
        "phi": np.where(detected, phi, np.nan),
    }
    meta = {"producer": "flashgen simulate electron", "seed": seed,
            "dataset": "fixed" if fixed is not None else "B", "fixed": list(fixed) if fixed else None}
    return EventTable(data, {c.name: c for c in ELECTRON_COLUMNS}, meta)
