"""PYTHIA8 event generation (``pythia8mc``): Drell-Yan Z/γ* → μμ and minimum-bias events.

Events are pulled in batches with ``Pythia.nextBatch(n)``, which returns the whole event record
of ``n`` events as one awkward array; the stable visible final state (``status > 0``, neutrinos
dropped) is flattened into :class:`~flashgen.sources.zmumu.particles.Particles`. Charges come
from ``particleData.charge`` (looked up once per distinct PDG id).

Settings (docs/physics.md §1): pp at 13 TeV, default tune with MPI, ISR/FSR and hadronisation.
Particles with a proper lifetime above 10 mm/c (K0S, Lambda, Sigma, Xi, Omega) are left
undecayed, as in CMS production, so that they reach the detector
(:mod:`~flashgen.sources.zmumu.physics` says what the detector does with them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import FlashgenError
from ...extras import require
from .particles import Particles

ak = require("awkward", "zmumu", deferred=True)

__all__ = [
    "COMMON_SETTINGS",
    "DRELL_YAN_SETTINGS",
    "HardEvents",
    "MINIMUM_BIAS_SETTINGS",
    "PYTHIA_SEED_MAX",
    "generate_drell_yan",
    "generate_minimum_bias",
    "make_pythia",
    "pythia_seed",
]

PYTHIA_SEED_MAX = 900_000_000
"""PYTHIA accepts ``Random:seed`` in [1, 900000000]."""

COMMON_SETTINGS = (
    "Beams:eCM = 13000.",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10.",
    "Print:quiet = on",
    "Next:numberCount = 0",
)

DRELL_YAN_SETTINGS = (
    "WeakSingleBoson:ffbar2gmZ = on",
    "23:onMode = off",
    "23:onIfAny = 13",
    "PhaseSpace:mHatMin = 50.",
)

MINIMUM_BIAS_SETTINGS = ("SoftQCD:inelastic = on",)

_NEUTRINOS = (12, 14, 16)


def pythia_seed(seq: np.random.SeedSequence) -> int:
    """A PYTHIA ``Random:seed`` in [1, 900000000] derived from ``seq``."""
    return int(seq.generate_state(1, dtype=np.uint64)[0] % PYTHIA_SEED_MAX) + 1


def make_pythia(process: tuple[str, ...], seed: int) -> object:
    """An initialised, silent ``pythia8mc.Pythia`` for ``process`` settings and ``seed``.

    Arguments:
        process: :data:`DRELL_YAN_SETTINGS` or :data:`MINIMUM_BIAS_SETTINGS`.
        seed: PYTHIA seed in [1, 900000000].
    """
    pythia8mc = require("pythia8mc", "zmumu")

    if not 1 <= seed <= PYTHIA_SEED_MAX:
        raise FlashgenError(f"PYTHIA seed {seed} is outside [1, {PYTHIA_SEED_MAX}]")
    pythia = pythia8mc.Pythia("", False)
    for line in (*COMMON_SETTINGS, *process, "Random:setSeed = on", f"Random:seed = {seed}"):
        if not pythia.readString(line):
            raise FlashgenError(f"PYTHIA rejected the setting '{line}'")
    if not pythia.init():
        raise FlashgenError("PYTHIA failed to initialise; check the pythia8mc installation")
    return pythia


_CHARGES: dict[int, float] = {}


def _charges(pythia: object, pid: np.ndarray) -> np.ndarray:
    """Charges (units of e) of PDG ids ``pid``, one ``particleData`` lookup per distinct id."""
    unique, inverse = np.unique(pid, return_inverse=True)
    for p in unique.tolist():
        if p not in _CHARGES:
            _CHARGES[p] = float(pythia.particleData.charge(p))  # type: ignore[attr-defined]
    return np.array([_CHARGES[p] for p in unique.tolist()], dtype=np.float64)[inverse]


def _next_batch(pythia: object, n: int) -> ak.Array:
    """``n`` events from ``pythia.nextBatch`` (topped up if failed events were skipped)."""
    batches = []
    missing = n
    for _ in range(100):
        if missing <= 0:
            break
        batch = pythia.nextBatch(missing)  # type: ignore[attr-defined]
        if batch is not None and len(batch):
            batches.append(batch)
            missing -= len(batch)
    if missing > 0:
        raise FlashgenError(f"PYTHIA failed to generate {missing} of {n} events")
    return batches[0] if len(batches) == 1 else ak.concatenate(batches)


def _final_state(pythia: object, prt: ak.Array) -> Particles:
    """Stable visible particles (``status > 0``, no neutrinos) of event records ``prt``."""
    counts = ak.num(prt.id).to_numpy()
    status = ak.flatten(prt.status).to_numpy()
    pid = ak.flatten(prt.id).to_numpy()
    keep = np.flatnonzero((status > 0) & ~np.isin(np.abs(pid), _NEUTRINOS))
    event = np.repeat(np.arange(len(counts), dtype=np.int64), counts)[keep]
    mom = prt.p
    return Particles(
        event=event,
        vertex=np.zeros(len(keep), dtype=np.int32),
        pid=pid[keep].astype(np.int32),
        charge=_charges(pythia, pid[keep]),
        px=ak.flatten(mom.px).to_numpy()[keep],
        py=ak.flatten(mom.py).to_numpy()[keep],
        pz=ak.flatten(mom.pz).to_numpy()[keep],
        e=ak.flatten(mom.e).to_numpy()[keep],
        m=ak.flatten(prt.m).to_numpy()[keep],
    )


@dataclass
class HardEvents:
    """A batch of Drell-Yan events at generator level.

    Attributes:
        particles: stable visible final-state particles (``vertex == 0``).
        z_pt: pT of the Z/γ* (its last copy in the record, the one that decays), GeV, ``(n,)``.
        z_mass: its mass in GeV, ``(n,)``.
        nu_px, nu_py: vector sum of the final-state neutrinos' px and py, GeV, ``(n,)`` (the
            generator-level missing transverse momentum).
    """

    particles: Particles
    z_pt: np.ndarray
    z_mass: np.ndarray
    nu_px: np.ndarray
    nu_py: np.ndarray

    def __len__(self) -> int:
        return len(self.z_pt)


def generate_drell_yan(pythia: object, n_events: int) -> HardEvents:
    """Generate ``n_events`` Drell-Yan events with an initialised Drell-Yan ``pythia``."""
    prt = _next_batch(pythia, n_events).prt
    particles = _final_state(pythia, prt)
    # The last Z copy in the record is the one that decays to the muon pair.
    index = ak.local_index(prt.id, axis=1)
    last_z = ak.max(ak.where(prt.id == 23, index, -1), axis=1).to_numpy()
    if np.any(last_z < 0):
        raise FlashgenError("a Drell-Yan event without a Z/gamma* in its record; check the settings")
    offsets = np.concatenate([[0], np.cumsum(ak.num(prt.id).to_numpy())])
    flat = offsets[:-1] + last_z
    zpx = ak.flatten(prt.p.px).to_numpy()[flat]
    zpy = ak.flatten(prt.p.py).to_numpy()[flat]
    nu = (ak.flatten(prt.status).to_numpy() > 0) & np.isin(np.abs(ak.flatten(prt.id).to_numpy()), _NEUTRINOS)
    n = len(offsets) - 1
    owner = np.repeat(np.arange(n), np.diff(offsets))[nu]
    nu_px = np.bincount(owner, ak.flatten(prt.p.px).to_numpy()[nu], minlength=n)
    nu_py = np.bincount(owner, ak.flatten(prt.p.py).to_numpy()[nu], minlength=n)
    return HardEvents(particles, np.hypot(zpx, zpy), ak.flatten(prt.m).to_numpy()[flat], nu_px, nu_py)


def generate_minimum_bias(pythia: object, n_events: int) -> Particles:
    """Generate ``n_events`` minimum-bias events with an initialised minimum-bias ``pythia``."""
    return _final_state(pythia, _next_batch(pythia, n_events).prt)
