"""Per-bin uncertainty bands of a histogram from an ensemble of generated samples.

A generated sample inherits the statistical uncertainty of its finite training sample. Training
``M`` models on bootstrap resamples of the training set and histogramming each member's events
separately gives ``M`` predictions per bin; their spread is that inherited uncertainty.

References:
    Matchev, Roman, Shyamsundar, "Uncertainties associated with GAN-generated datasets in high
    energy physics", SciPost Phys. 12 (2022) 104, arXiv:2002.06307.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FlashgenError

__all__ = ["Band", "histogram_band"]


@dataclass(frozen=True)
class Band:
    """An ensemble's prediction of a histogram, per bin.

    Attributes:
        edges: bin edges, shape ``(n_bins + 1,)``.
        members: per-member fraction of events per bin, shape ``(n_members, n_bins)``.
        center: median over members, shape ``(n_bins,)``.
        lo, hi: lower and upper quantile over members (68 % central band by default).
    """

    edges: np.ndarray
    members: np.ndarray
    center: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def histogram_band(values: np.ndarray, member: np.ndarray, edges: np.ndarray,
                   quantiles: tuple[float, float] = (0.16, 0.84)) -> Band:
    """Histogram ``values`` separately per ensemble ``member`` and take per-bin quantiles.

    Arguments:
        values: observable per event, shape ``(n_events,)``.
        member: integer ensemble member index per event, shape ``(n_events,)``.
        edges: bin edges, shape ``(n_bins + 1,)``; events outside are ignored.
        quantiles: lower and upper quantile of the band (default 16 % and 84 %: a 68 % band).

    Returns:
        A :class:`Band` of fractions of each member's events per bin (so members with different
        numbers of events are comparable; multiply by a sample size to get counts).
    """
    values = np.asarray(values, dtype=np.float64)
    member = np.asarray(member)
    if values.shape != member.shape or values.ndim != 1:
        raise FlashgenError(f"values and member must be 1D of equal length, got {values.shape} and {member.shape}")
    ids = np.unique(member)
    if len(ids) < 2:
        raise FlashgenError(f"an ensemble band needs at least 2 members, got {len(ids)}")
    per_member = np.empty((len(ids), len(edges) - 1))
    for k, m in enumerate(ids):
        sel = member == m
        counts, _ = np.histogram(values[sel], bins=edges)
        per_member[k] = counts / max(int(sel.sum()), 1)
    lo, center, hi = np.quantile(per_member, [quantiles[0], 0.5, quantiles[1]], axis=0)
    return Band(np.asarray(edges, dtype=np.float64), per_member, center, lo, hi)
