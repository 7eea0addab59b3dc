"""Drell-Yan Z/γ* → μμ at 13 TeV with pileup: PYTHIA8, anti-kT jets and a parametric CMS detector."""

from .columns import EXTRA_COLUMNS, FEATURES, JETS, RECO_COLUMNS, TRUTH_COLUMNS, ZMUMU_COLUMNS

__all__ = ["EXTRA_COLUMNS", "FEATURES", "JETS", "RECO_COLUMNS", "TRUTH_COLUMNS", "ZMUMU_COLUMNS"]
