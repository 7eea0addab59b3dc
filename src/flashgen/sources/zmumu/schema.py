"""Column schema of the Drell-Yan Z→μμ reference dataset (docs/physics.md §1).

All momenta and energies in GeV, in the laboratory frame (no rotation applied): the analysis
rotation that sets μ1's py to zero is a preprocessing transform of the models, and every derived
observable used in validation is invariant under azimuthal rotations.
"""

from __future__ import annotations

from dataclasses import replace

from ...data import Column

__all__ = ["RECO_COLUMNS", "EXTRA_COLUMNS", "TRUTH_COLUMNS", "ZMUMU_COLUMNS", "FEATURES", "JETS",
           "GEN_JETS", "GEN_LEVEL_COLUMNS", "GEN_MUONS", "SELECTED", "GEN_ONLY_COLUMNS", "shard_columns"]

JETS = [f"jet{i}_pt" for i in range(1, 6)]

RECO_COLUMNS = [
    Column("mu0_px", "GeV", "leading muon px (reconstructed)"),
    Column("mu0_py", "GeV", "leading muon py (reconstructed)"),
    Column("mu0_pz", "GeV", "leading muon pz (reconstructed)"),
    Column("mu0_e", "GeV", "leading muon energy (reconstructed)"),
    Column("mu1_px", "GeV", "subleading muon px (reconstructed)"),
    Column("mu1_py", "GeV", "subleading muon py (reconstructed)"),
    Column("mu1_pz", "GeV", "subleading muon pz (reconstructed)"),
    Column("mu1_e", "GeV", "subleading muon energy (reconstructed)"),
    Column("nvtx", "", "reconstructed primary vertices (interactions with >= 2 tracks of pT > 0.5 GeV)"),
    Column("met_x", "GeV", "missing transverse momentum, x component"),
    Column("met_y", "GeV", "missing transverse momentum, y component"),
    Column("iso0", "", "relative isolation of the leading muon (dR < 0.3, candidates pT > 0.5 GeV)"),
    Column("iso1", "", "relative isolation of the subleading muon"),
    *[Column(j, "GeV", f"pT of jet {i} in decreasing pT: anti-kT R=0.4, |eta| < 4.7, pileup-corrected "
             "(charged-hadron subtraction and rho*area) pT > 10 GeV; 0 if absent")
      for i, j in enumerate(JETS, start=1)],
]

EXTRA_COLUMNS = [
    Column("mu0_charge", "e", "leading muon charge"),
    Column("mu1_charge", "e", "subleading muon charge"),
    Column("iso0_ch", "", "leading muon isolation from charged candidates"),
    Column("iso0_ph", "", "leading muon isolation from photons"),
    Column("iso0_nh", "", "leading muon isolation from neutral hadrons"),
    Column("iso1_ch", "", "subleading muon isolation from charged candidates"),
    Column("iso1_ph", "", "subleading muon isolation from photons"),
    Column("iso1_nh", "", "subleading muon isolation from neutral hadrons"),
    Column("njet", "", "number of jets with pT > 10 GeV, |eta| < 4.7 (all, not only five)"),
    Column("rho", "GeV", "pileup pT density per unit eta-phi area, |eta| < 2.5: median over "
           "0.5 x 0.52 cells of the jet inputs (after charged-hadron subtraction)"),
]

TRUTH_COLUMNS = [
    Column("gen_mu0_px", "GeV", "true px of the muon reconstructed as mu0"),
    Column("gen_mu0_py", "GeV", "true py of the muon reconstructed as mu0"),
    Column("gen_mu0_pz", "GeV", "true pz of the muon reconstructed as mu0"),
    Column("gen_mu0_e", "GeV", "true energy of the muon reconstructed as mu0"),
    Column("gen_mu1_px", "GeV", "true px of the muon reconstructed as mu1"),
    Column("gen_mu1_py", "GeV", "true py of the muon reconstructed as mu1"),
    Column("gen_mu1_pz", "GeV", "true pz of the muon reconstructed as mu1"),
    Column("gen_mu1_e", "GeV", "true energy of the muon reconstructed as mu1"),
    Column("gen_z_pt", "GeV", "true pT of the Z/gamma* boson"),
    Column("gen_z_mass", "GeV", "true mass of the Z/gamma* boson"),
    Column("n_pileup", "", "true number of pileup interactions added to the event"),
]

GEN_MUONS = ("genmu0", "genmu1")
GEN_JETS = tuple(f"genjet{i}" for i in range(1, 6))

GEN_LEVEL_COLUMNS = [
    *[Column(f"{m}_{v}", unit, f"{which} muon of the Z decay at generator level (after FSR): {what}")
      for m, which in zip(GEN_MUONS, ("leading", "subleading"))
      for v, unit, what in (("pt", "GeV", "pT"), ("eta", "", "pseudorapidity"), ("phi", "rad", "azimuth"),
                            ("charge", "e", "charge"))],
    Column("ngenjet", "", "number of generator-level jets (anti-kT R=0.4 on the hard interaction's "
           "stable visible particles but the two muons, |eta| < 4.7, pT > 10 GeV)"),
    *[Column(f"{j}_{v}", unit, f"generator-level jet {i} in decreasing pT: {what}; 0 if absent")
      for i, j in enumerate(GEN_JETS, start=1)
      for v, unit, what in (("pt", "GeV", "pT"), ("eta", "", "pseudorapidity"), ("phi", "rad", "azimuth"))],
    Column("genmet_x", "GeV", "generator-level missing pT, x: sum of the neutrinos' px"),
    Column("genmet_y", "GeV", "generator-level missing pT, y: sum of the neutrinos' py"),
]
"""Generator-level columns recorded for every event (selected or not)."""

ZMUMU_COLUMNS = RECO_COLUMNS + EXTRA_COLUMNS + TRUTH_COLUMNS
"""The reconstructed, extra and truth columns of a selected Z→μμ event, in storage order."""

SELECTED = Column("selected", "", "1 if the event passes the reconstruction-level selection (two "
                  "identified opposite-charge muons, 50 < m(mu mu) < 150 GeV), else 0")

_TRUTH_OF_EVERY_EVENT = ("gen_z_pt", "gen_z_mass", "n_pileup")

GEN_ONLY_COLUMNS = GEN_LEVEL_COLUMNS + [c for c in TRUTH_COLUMNS if c.name in _TRUTH_OF_EVERY_EVENT]
"""The columns of ``flashgen simulate zmumu --level gen`` (no detector, no pileup simulated)."""


def shard_columns(level: str = "reco", keep_unselected: bool = False) -> list[Column]:
    """The columns of a shard, in storage order.

    Arguments:
        level: ``"reco"`` (the full chain: :data:`ZMUMU_COLUMNS` and :data:`GEN_LEVEL_COLUMNS`)
            or ``"gen"`` (:data:`GEN_ONLY_COLUMNS`).
        keep_unselected: with ``level="reco"``, every generated event is stored with
            :data:`SELECTED`, and the columns that need the reconstruction are NaN (nullable)
            where it is 0.
    """
    if level == "gen":
        return list(GEN_ONLY_COLUMNS)
    if not keep_unselected:
        return ZMUMU_COLUMNS + GEN_LEVEL_COLUMNS
    every = {c.name for c in GEN_ONLY_COLUMNS}
    reco = [c if c.name in every else replace(c, nullable=True,
                                               description=c.description + " (NaN if not selected)")
            for c in ZMUMU_COLUMNS]
    return reco + GEN_LEVEL_COLUMNS + [SELECTED]

FEATURES = [c.name for c in RECO_COLUMNS]
"""The 18 laboratory-frame columns from which the analysis' 17 training features are made
(rotation to μ1 py = 0 drops ``mu1_py``)."""
