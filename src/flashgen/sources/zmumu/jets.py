"""Anti-kT jets from particle-flow candidates, many events per FastJet call.

FastJet's awkward interface clusters a jagged array (events x candidates) in one
``ClusterSequence``; the jets are then cut (|eta| < 4.7, pT > 10 GeV), ordered by pT and the
five hardest kept, zero-padded.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from .particles import kinematics

__all__ = ["JET_ETA_MAX", "JET_PT_MIN", "JET_R", "N_JETS", "cluster_jets"]

JET_R = 0.4
"""Anti-kT distance parameter."""

JET_PT_MIN = 10.0
"""Minimum jet pT in GeV."""

JET_ETA_MAX = 4.7
"""Maximum jet |eta|."""

N_JETS = 5
"""Number of leading jets stored."""


def cluster_jets(event: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray,
                 n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster anti-kT R = 0.4 jets in each of ``n_events`` events.

    Arguments:
        event: event index of each input, ``(n,)``, in ``0 .. n_events - 1`` (any order).
        px, py, pz, e: input four-momenta in GeV, ``(n,)``.
        n_events: number of events (events without inputs get no jets).

    Returns:
        ``(jet_pt, njet)``: pT of the five hardest jets with |eta| < 4.7 and pT > 10 GeV, in
        GeV, shape ``(n_events, 5)``, zero where absent; and the number of such jets,
        ``(n_events,)``.
    """
    import fastjet

    # FastJet prints a banner to stdout on its first clustering; a null stream silences it.
    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    jet_pt = np.zeros((n_events, N_JETS))
    njet = np.zeros(n_events, dtype=np.int64)
    if n_events == 0:
        return jet_pt, njet
    order = np.argsort(event, kind="stable")
    counts = np.bincount(event, minlength=n_events)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.ascontiguousarray(v[order], dtype=np.float64))
         for v in (px, py, pz, e)],
        ["px", "py", "pz", "E"])
    inputs = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), record))
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)
    jets = fastjet.ClusterSequence(inputs, jetdef).inclusive_jets(JET_PT_MIN)
    jcounts = ak.num(jets.px).to_numpy()
    jet_event = np.repeat(np.arange(n_events), jcounts)
    pt, eta, _ = kinematics(ak.flatten(jets.px).to_numpy(), ak.flatten(jets.py).to_numpy(),
                            ak.flatten(jets.pz).to_numpy())
    keep = (np.abs(eta) < JET_ETA_MAX) & (pt > JET_PT_MIN)
    jet_event, pt = jet_event[keep], pt[keep]
    njet = np.bincount(jet_event, minlength=n_events)
    # Rank of each jet within its event by decreasing pT.
    order = np.lexsort((-pt, jet_event))
    jet_event, pt = jet_event[order], pt[order]
    first = np.concatenate([[0], np.cumsum(njet)[:-1]])
    rank = np.arange(len(pt)) - first[jet_event]
    top = rank < N_JETS
    jet_pt[jet_event[top], rank[top]] = pt[top]
    return jet_pt, njet
