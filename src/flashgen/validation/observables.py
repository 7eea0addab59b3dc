"""Derived observables: named functions of an event table, validated like the features.

An :class:`Observable` says what it needs (``requires``: column names) and how to bin it; the
registry :data:`OBSERVABLES` holds the built-in ones and :func:`register_observable` adds more.
:func:`applicable_observables` picks those whose required columns are available, so the same
validation serves Z→μμ tables, electron tables or any future table.

Z→μμ observables are functions of the laboratory-frame columns of
:mod:`flashgen.sources.zmumu.columns` and are invariant under a common azimuthal rotation of the
event (models return events with a random rotation). A table without ``mu1_py`` is taken to be in
the analysis frame already, where μ1 has ``py = 0`` and ``px > 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import physics
from ..data import Column, EventTable
from ..errors import FlashgenError

__all__ = [
    "COMPARISON_PAIRS",
    "OBSERVABLES",
    "Observable",
    "align_frames",
    "applicable_observables",
    "register_observable",
    "rotate_to_mu1_frame",
    "wrap_angle",
]


@dataclass(frozen=True)
class Observable:
    """A derived quantity computed per event.

    Arguments:
        name: short identifier, e.g. ``"mll"``.
        function: ``EventTable -> array of shape (n_events,)`` (NaN where undefined).
        unit: unit of the result (``"GeV"``, ``"rad"`` or ``""``).
        requires: columns the function reads (all must be present).
        label: axis label for plots.
        binning: ``(low, high, n_bins)`` when the quantity has a natural range, else ``None``
            (bins are then chosen from the reference).
        description: one line saying what it is.
    """

    name: str
    function: Callable[[EventTable], np.ndarray] = field(repr=False)
    unit: str
    requires: tuple[str, ...]
    label: str
    binning: tuple[float, float, int] | None = None
    description: str = ""

    def __call__(self, table: EventTable) -> np.ndarray:
        return np.asarray(self.function(table), dtype=np.float64)


OBSERVABLES: dict[str, Observable] = {}
"""Registry of derived observables by name."""

COMPARISON_PAIRS: list[tuple[str, str]] = [("jet1_pt", "ptll")]
"""``(x, y)`` quantities shown as 2D histograms side by side when both are available."""


def register_observable(observable: Observable, *, replace: bool = False) -> Observable:
    """Add ``observable`` to :data:`OBSERVABLES` (``replace=True`` to overwrite a name)."""
    if observable.name in OBSERVABLES and not replace:
        raise FlashgenError(f"an observable named '{observable.name}' is already registered")
    OBSERVABLES[observable.name] = observable
    return observable


def applicable_observables(columns: Iterable[str],
                           names: Sequence[str] | None = None) -> list[Observable]:
    """Registered observables whose required columns are all in ``columns``.

    Arguments:
        columns: available column names.
        names: restrict to these observable names (unknown names raise an error).
    """
    available = set(columns)
    if names is not None:
        unknown = [n for n in names if n not in OBSERVABLES]
        if unknown:
            raise FlashgenError(f"unknown observable(s) {', '.join(unknown)}; "
                                f"known: {', '.join(OBSERVABLES)}")
        pool = [OBSERVABLES[n] for n in names]
    else:
        pool = list(OBSERVABLES.values())
    return [o for o in pool if set(o.requires) <= available]


def wrap_angle(phi: np.ndarray) -> np.ndarray:
    """Map angles (rad) into [-π, π)."""
    return np.mod(np.asarray(phi, dtype=np.float64) + np.pi, 2.0 * np.pi) - np.pi


# ---------------------------------------------------------------------------------------------
# Z→μμ


def _f(table: EventTable, name: str) -> np.ndarray:
    return np.asarray(table[name], dtype=np.float64)


# The quantities themselves live in flashgen.physics (one implementation, shared with the GAN's
# regression terms and the training's snapshot selection); a table without ``mu1_py`` is read as
# already rotated (μ1 py = 0).
mll, ptll, met, met_phi, dphi_mumu = physics.mll, physics.ptll, physics.met, physics.met_phi, physics.dphi_mumu
_JETS = tuple(f"jet{i}_pt" for i in range(1, 6))
NJET_THRESHOLD = 15.0
"""Jet pT threshold (GeV) of the jet multiplicity, as in the seed analysis."""


def njet15(table: EventTable) -> np.ndarray:
    """Number of the five stored jets with pT > 15 GeV."""
    return physics.n_jets(table, NJET_THRESHOLD)


_MU = ("mu0_px", "mu0_py", "mu0_pz", "mu0_e", "mu1_px", "mu1_pz", "mu1_e")

register_observable(Observable("mll", mll, "GeV", _MU, r"$m(\mu\mu)$ [GeV]", (50.0, 150.0, 50),
                               "invariant mass of the muon pair"))
register_observable(Observable("ptll", ptll, "GeV", _MU, r"$p_T(\mu\mu)$ [GeV]", None,
                               "transverse momentum of the muon pair"))
register_observable(Observable("met", met, "GeV", ("met_x", "met_y"), r"$E_T^{miss}$ [GeV]", None,
                               "missing transverse momentum magnitude"))
register_observable(Observable("met_phi", met_phi, "rad", ("met_x", "met_y", "mu1_px"),
                               r"$\phi_{miss}$ (from $\mu_1$) [rad]", (-np.pi, np.pi, 32),
                               "azimuth of the missing momentum relative to the subleading muon"))
register_observable(Observable("dphi_mumu", dphi_mumu, "rad", ("mu0_px", "mu0_py", "mu1_px"),
                               r"$\Delta\phi(\mu_0, \mu_1)$ [rad]", (-np.pi, np.pi, 32),
                               "azimuthal separation of the two muons"))
register_observable(Observable("njet15", njet15, "", _JETS, r"$N_{jets}$ ($p_T > 15$ GeV)",
                               (-0.5, 5.5, 6), "number of stored jets with pT > 15 GeV"))


# ---------------------------------------------------------------------------------------------
# Single electrons


def pt_response(table: EventTable) -> np.ndarray:
    """Reconstructed over true transverse momentum, pT'/pT (NaN when not detected)."""
    gen = _f(table, "gen_pt")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gen > 0, _f(table, "pt") / gen, np.nan)


register_observable(Observable("pt_response", pt_response, "", ("pt", "gen_pt"),
                               r"$p_T' / p_T$", None,
                               "electron pT response (reconstructed / true), detected electrons"))


# ---------------------------------------------------------------------------------------------
# Frames

TRANSVERSE = (("mu0_px", "mu0_py"), ("mu1_px", "mu1_py"), ("met_x", "met_y"))
"""Transverse vectors (x, y) of a Z→μμ table that a rotation about the beam axis moves."""


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
