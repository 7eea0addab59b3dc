"""Drell-Yan Z/γ* → μμ at 13 TeV with pileup: PYTHIA8, anti-kT jets and a parametric CMS detector.

Modules, following the data flow: :mod:`.generator` (PYTHIA8 events), :mod:`.pileup`
(minimum-bias library and overlay), :mod:`.physics` (every detector number, pure functions),
:mod:`.detector` (tracks, calorimeters, particle flow), :mod:`.jets` (FastJet anti-kT with
pileup mitigation: charged-hadron subtraction and rho*area, beyond docs/physics.md's letter),
:mod:`.analysis` (selection and event columns), :mod:`.pipeline` (one shard) and
:mod:`.production` (sharded, parallel, resumable runs: :func:`simulate_zmumu`); and what the
rest of flashgen knows about the dataset: :mod:`.quantities` (derived quantities, the analysis
frame) and :mod:`.profile` (the source's profile: quantities, preset, slicing).
"""

from typing import Any

from .schema import EXTRA_COLUMNS, FEATURES, JETS, RECO_COLUMNS, TRUTH_COLUMNS, ZMUMU_COLUMNS
from .profile import PROFILE

__all__ = ["EXTRA_COLUMNS", "FEATURES", "JETS", "PROFILE", "RECO_COLUMNS", "TRUTH_COLUMNS",
           "ZMUMU_COLUMNS", "ZmumuOptions", "simulate_zmumu"]


def __getattr__(name: str) -> Any:
    # Imported lazily: the simulator pulls in PYTHIA, awkward and FastJet, the schema does not.
    if name in ("simulate_zmumu", "ZmumuOptions"):
        from . import production

        return getattr(production, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
