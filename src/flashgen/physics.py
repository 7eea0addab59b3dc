"""Physics quantities of Z→μμ events, one pure function each, for numpy arrays and torch tensors.

Every function takes a mapping ``column name -> array of shape (n_events,)`` with the columns of
:mod:`flashgen.sources.zmumu.columns` (GeV, laboratory frame) and returns an array of shape
``(n_events,)``. A missing ``mu1_py`` is read as 0 (events already rotated so that μ1 has
``py = 0``). All quantities are invariant under a common azimuthal rotation of the event, so they
compare laboratory-frame tables with rotated ones. They work on numpy arrays and, unchanged, on
torch tensors (differentiably), which the GAN's regression terms use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["mll", "ptll", "met", "met_phi", "dphi_mumu", "n_jets"]

Array = Any  # numpy.ndarray or torch.Tensor


def _xp(x: Array) -> Any:
    """The array namespace of ``x``: numpy or torch."""
    if isinstance(x, np.ndarray):
        return np
    import torch

    return torch


def _get(ev: Mapping[str, Array], name: str, like: str) -> Array:
    return ev[name] if name in ev else ev[like] * 0


def mll(ev: Mapping[str, Array]) -> Array:
    """Dimuon invariant mass m(μμ) in GeV."""
    xp = _xp(ev["mu0_e"])
    e = ev["mu0_e"] + ev["mu1_e"]
    px = ev["mu0_px"] + ev["mu1_px"]
    py = ev["mu0_py"] + _get(ev, "mu1_py", "mu1_px")
    pz = ev["mu0_pz"] + ev["mu1_pz"]
    return xp.sqrt(xp.clip(e * e - px * px - py * py - pz * pz, 0, None))


def ptll(ev: Mapping[str, Array]) -> Array:
    """Transverse momentum of the dimuon system pT(μμ) in GeV."""
    xp = _xp(ev["mu0_px"])
    return xp.hypot(ev["mu0_px"] + ev["mu1_px"], ev["mu0_py"] + _get(ev, "mu1_py", "mu1_px"))


def met(ev: Mapping[str, Array]) -> Array:
    """Missing transverse momentum magnitude in GeV."""
    return _xp(ev["met_x"]).hypot(ev["met_x"], ev["met_y"])


def met_phi(ev: Mapping[str, Array]) -> Array:
    """Azimuth of the missing momentum measured from μ1's direction, in [-pi, pi) rad.

    This is the seed analysis' φ_miss, computed in the frame where μ1 has ``py = 0, px > 0``.
    """
    xp = _xp(ev["met_x"])
    phi = xp.arctan2(ev["met_y"], ev["met_x"]) - xp.arctan2(_get(ev, "mu1_py", "mu1_px"), ev["mu1_px"])
    return _wrap(phi)


def dphi_mumu(ev: Mapping[str, Array]) -> Array:
    """Azimuthal separation Δφ(μ0, μ1) in [-pi, pi) rad."""
    xp = _xp(ev["mu0_px"])
    phi = xp.arctan2(ev["mu0_py"], ev["mu0_px"]) - xp.arctan2(_get(ev, "mu1_py", "mu1_px"), ev["mu1_px"])
    return _wrap(phi)


def n_jets(ev: Mapping[str, Array], threshold: float = 15.0) -> Array:
    """Number of jets among ``jet1_pt .. jet5_pt`` above ``threshold`` GeV (default 15)."""
    return sum((ev[f"jet{i}_pt"] > threshold) * 1 for i in range(1, 6))


def _wrap(phi: Array) -> Array:
    return (phi + math.pi) % (2 * math.pi) - math.pi
