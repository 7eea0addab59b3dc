"""Derived quantities of Z→μμ events, one pure function each, for numpy arrays and torch tensors,
and the analysis frame (rotation about the beam axis to μ1 py = 0).

Every function takes a mapping ``column name -> array of shape (n_events,)`` with the columns of
:mod:`flashgen.sources.zmumu.schema` (GeV, laboratory frame) and returns an array of shape
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

from ...data import Column, EventTable
from ...errors import FlashgenError

__all__ = ["NJET_THRESHOLD", "TRANSVERSE", "align_frames", "dphi_mumu", "met", "met_phi", "mll",
           "njet15", "ptll", "rotate_to_mu1_frame"]

NJET_THRESHOLD = 15.0
"""Jet pT threshold (GeV) of the jet multiplicity, as in the seed analysis."""

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


def njet15(ev: Mapping[str, Array], threshold: float = NJET_THRESHOLD) -> Array:
    """Number of jets among ``jet1_pt .. jet5_pt`` above ``threshold`` GeV (default 15)."""
    return sum((ev[f"jet{i}_pt"] > threshold) * 1 for i in range(1, 6))


def _wrap(phi: Array) -> Array:
    return (phi + math.pi) % (2 * math.pi) - math.pi


# ---------------------------------------------------------------------------------------------
# The analysis frame

TRANSVERSE = (("mu0_px", "mu0_py"), ("mu1_px", "mu1_py"), ("met_x", "met_y"))
"""Transverse vectors (x, y) of a Z→μμ table that a rotation about the beam axis moves."""


def _f(table: EventTable, name: str) -> np.ndarray:
    return np.asarray(table[name], dtype=np.float64)


def rotate_to_mu1_frame(table: EventTable) -> EventTable:
    """Rotate each event about the beam axis so that μ1 has py = 0 and px > 0; drop ``mu1_py``.

    Rotates μ0, μ1 and the missing momentum (the vectors of :data:`TRANSVERSE` that are
    present); jet pT, isolation and every rotation-invariant column are unchanged.
    """
    missing = [n for n in ("mu1_px", "mu1_py") if n not in table]
    if missing:
        raise FlashgenError(f"cannot rotate to the mu1 frame: column(s) {', '.join(missing)} missing")
    phi = np.arctan2(_f(table, "mu1_py"), _f(table, "mu1_px"))
    c, s = np.cos(phi), np.sin(phi)
    data = dict(table.data)
    columns = dict(table.columns)
    for xname, yname in TRANSVERSE:
        if xname in table and yname in table:
            x, y = _f(table, xname), _f(table, yname)
            data[xname], data[yname] = c * x + s * y, -s * x + c * y
    data["mu1_px"] = np.hypot(_f(table, "mu1_px"), _f(table, "mu1_py"))
    del data["mu1_py"]
    columns.pop("mu1_py", None)
    meta = dict(table.meta)
    meta["frame"] = "rotated to mu1 py = 0 by flashgen validate"
    return EventTable(data, {n: columns.get(n, Column(n)) for n in data}, meta)


def align_frames(reference: EventTable, generated: EventTable) -> tuple[EventTable, EventTable, str]:
    """Bring two Z→μμ tables into one frame so that their momentum components are comparable.

    When exactly one table lacks ``mu1_py`` (it is in the analysis frame, μ1 py = 0), the other
    is rotated into that frame with :func:`rotate_to_mu1_frame`.

    Returns:
        ``(reference, generated, note)``; ``note`` says what was done (empty when nothing).
    """
    has_ref, has_gen = "mu1_py" in reference, "mu1_py" in generated
    if has_ref == has_gen or not ("mu1_px" in reference and "mu1_px" in generated):
        return reference, generated, ""
    if has_ref:
        return (rotate_to_mu1_frame(reference), generated,
                "the generated table has no mu1_py (analysis frame); the reference was rotated "
                "about the beam axis so that mu1 has py = 0")
    return (reference, rotate_to_mu1_frame(generated),
            "the reference table has no mu1_py (analysis frame); the generated table was rotated "
            "about the beam axis so that mu1 has py = 0")
