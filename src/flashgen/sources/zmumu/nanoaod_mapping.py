"""Z→μμ columns as NanoAOD collections, so that a coffea/NanoAOD analysis reads flashgen events.

:func:`nanoaod` is the source's NanoAOD mapping (the ``nanoaod`` field of its profile); the
generic writer (:mod:`flashgen.nanoaod`) adds the event IDs, stores floats as float32 and
writes the ``Events`` TTree. Collections and their branches (NanoAOD names, GeV and radians):

- ``Muon`` (``nMuon`` = 2): ``Muon_pt``, ``Muon_eta``, ``Muon_phi``, ``Muon_mass`` from the
  four-vectors ``mu{0,1}_px, py, pz, e`` (mass = sqrt(max(e² - p², 0)), so that the pair's
  four-momentum and m(μμ) are those of the table), in decreasing pT as in NanoAOD;
  ``Muon_charge`` from ``mu{0,1}_charge`` when the table has them (simulated events), otherwise
  the placeholder -1 for mu0 and +1 for mu1 (the models do not generate charges: opposite
  charges, as the selection requires; charge-dependent quantities are meaningless then);
  ``Muon_pfRelIso03_all`` from ``iso0`` / ``iso1`` (relative isolation, ΔR < 0.3, all candidates).
- ``Jet`` (``nJet`` = number of ``jet1_pt .. jet5_pt`` above 0, in that order): ``Jet_pt``; the
  table has no jet directions or masses, so ``Jet_eta``, ``Jet_phi`` and ``Jet_mass`` hold the
  placeholder 0 (never NaN).
- ``MET_pt``, ``MET_phi`` from ``met_x``, ``met_y``; ``PV_npvs`` (int32) from ``nvtx``, and
  the placeholder 0 for the primary vertex position ``PV_x``, ``PV_y``, ``PV_z`` (cm; coffea's
  vertex records need them, the table has no vertex position).

A table in the analysis frame (no ``mu1_py``) is read with ``mu1_py = 0``, as everywhere in
:mod:`flashgen.sources.zmumu.quantities`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import FlashgenError
from .schema import JETS

__all__ = ["REQUIRES", "nanoaod"]

REQUIRES = ("mu0_px", "mu0_py", "mu0_pz", "mu0_e", "mu1_px", "mu1_pz", "mu1_e", "met_x", "met_y",
            "iso0", "iso1", *JETS, "nvtx")
"""Columns the mapping reads (``mu1_py``, ``mu0_charge`` and ``mu1_charge`` are optional)."""


def _f(columns: Mapping[str, Any], name: str) -> np.ndarray:
    return np.asarray(columns[name], dtype=np.float64)


def _muon(columns: Mapping[str, Any], i: int) -> dict[str, np.ndarray]:
    """pt, eta, phi, mass (GeV, rad), charge (e) and isolation of muon ``i``, shape (n_events,)."""
    px, pz, e = (_f(columns, f"mu{i}_{c}") for c in ("px", "pz", "e"))
    py = _f(columns, f"mu{i}_py") if f"mu{i}_py" in columns else np.zeros_like(px)
    pt = np.hypot(px, py)
    charge = (np.asarray(columns[f"mu{i}_charge"]) if f"mu{i}_charge" in columns
              else np.full(len(px), 2 * i - 1))
    return {"pt": pt, "eta": np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)),
            "phi": np.arctan2(py, px),
            "mass": np.sqrt(np.clip(e * e - pt * pt - pz * pz, 0.0, None)),
            "charge": np.rint(charge).astype(np.int32), "pfRelIso03_all": _f(columns, f"iso{i}")}


def nanoaod(columns: Mapping[str, Any]) -> dict[str, Any]:
    """NanoAOD collections of a Z→μμ table (see the module docstring for every branch).

    Arguments:
        columns: column name -> array of shape ``(n_events,)`` (an
            :class:`~flashgen.data.EventTable` or a dict), GeV, laboratory or analysis frame.

    Returns:
        ``{"Muon": jagged records (2 per event), "Jet": jagged records (0-5 per event),
        "MET": records, "PV": records}`` as awkward arrays of length ``n_events``; written with
        uproot they become ``nMuon``, ``Muon_pt``, ..., ``MET_pt``, ``PV_npvs``.

    Raises:
        FlashgenError: a column of :data:`REQUIRES` is missing.
    """
    import awkward as ak

    missing = [c for c in REQUIRES if c not in columns]
    if missing:
        raise FlashgenError(f"not a Z→μμ table: column(s) {', '.join(missing)} missing")
    mu0, mu1 = _muon(columns, 0), _muon(columns, 1)
    swap = mu1["pt"] > mu0["pt"]  # NanoAOD orders muons by decreasing pT
    muon = {k: np.stack([np.where(swap, mu1[k], mu0[k]), np.where(swap, mu0[k], mu1[k])], axis=1)
            for k in mu0}
    two, zero = np.full(len(swap), 2), np.zeros(len(swap))
    jet_pt = np.stack([_f(columns, j) for j in JETS], axis=1)
    keep = jet_pt > 0
    n_jets = keep.sum(axis=1)
    placeholder = np.zeros(int(n_jets.sum()))
    return {
        "Muon": ak.zip({k: ak.unflatten(v.reshape(-1), two) for k, v in muon.items()}),
        "Jet": ak.zip({"pt": ak.unflatten(jet_pt[keep], n_jets), "eta": ak.unflatten(placeholder, n_jets),
                       "phi": ak.unflatten(placeholder, n_jets), "mass": ak.unflatten(placeholder, n_jets)}),
        "MET": ak.zip({"pt": np.hypot(_f(columns, "met_x"), _f(columns, "met_y")),
                       "phi": np.arctan2(_f(columns, "met_y"), _f(columns, "met_x"))}),
        "PV": ak.zip({"npvs": np.rint(_f(columns, "nvtx")).astype(np.int32), "x": zero,
                      "y": zero, "z": zero}),
    }
