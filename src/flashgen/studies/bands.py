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

from ..data import EventTable
from ..errors import FlashgenError

__all__ = ["Band", "band_coverage", "band_from_members", "histogram_band", "table_band"]


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
                   quantiles: tuple[float, float] = (0.16, 0.84), method: str = "quantile") -> Band:
    """Histogram ``values`` separately per ensemble ``member`` and take per-bin quantiles.

    Arguments:
        values: observable per event, shape ``(n_events,)``.
        member: integer ensemble member index per event, shape ``(n_events,)``.
        edges: bin edges, shape ``(n_bins + 1,)``; events outside are ignored.
        quantiles: lower and upper quantile of the band (default 16 % and 84 %: a 68 % band).
        method: how the band is drawn from the ``M`` member values of each bin:
            ``"quantile"`` (default): median and the ``quantiles`` over members (linear
            interpolation). For small ensembles this band is too narrow: an independent value
            falls inside it with probability ~0.57 for M = 10, 0.62 for M = 20, 0.65 for
            M = 50 instead of 0.68.
            ``"prediction"``: the same with Weibull plotting positions ``q (M + 1)``, the
            distribution-free prediction interval: an independent value falls inside with
            probability ``quantiles[1] - quantiles[0]`` for any ``M``.
            ``"std"``: mean and mean ± one standard deviation (``ddof=1``) over members
            (Student-t: 0.63 for M = 10).

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
    return band_from_members(per_member, edges, quantiles, method)


def band_from_members(per_member: np.ndarray, edges: np.ndarray,
                      quantiles: tuple[float, float] = (0.16, 0.84), method: str = "quantile") -> Band:
    """A :class:`Band` from per-member bin fractions ``(n_members, n_bins)`` (see :func:`histogram_band`)."""
    per_member = np.asarray(per_member, dtype=np.float64)
    if method in ("quantile", "prediction"):
        how = "linear" if method == "quantile" else "weibull"
        lo, center, hi = np.quantile(per_member, [quantiles[0], 0.5, quantiles[1]], axis=0, method=how)
    elif method == "std":
        center = per_member.mean(axis=0)
        spread = per_member.std(axis=0, ddof=1)
        lo, hi = center - spread, center + spread
    else:
        raise FlashgenError(f"unknown band method '{method}'; use 'quantile', 'prediction' or 'std'")
    return Band(np.asarray(edges, dtype=np.float64), per_member, center, lo, hi)


def table_band(table: EventTable, column: str, edges: np.ndarray,
               quantiles: tuple[float, float] = (0.16, 0.84), method: str = "quantile") -> Band:
    """:func:`histogram_band` of ``column`` of an ensemble table with an integer ``member`` column."""
    return histogram_band(table[column], table["member"], edges, quantiles, method)


def band_coverage(band: Band, truth: np.ndarray) -> np.ndarray:
    """Whether the truth lies inside the band, per bin.

    Arguments:
        band: the ensemble band.
        truth: true fraction of events per bin (exact, or from a large held-out sample), shape
            ``(n_bins,)``.

    Returns:
        Boolean array ``lo <= truth <= hi`` of shape ``(n_bins,)``; its mean is the coverage.
    """
    truth = np.asarray(truth, dtype=np.float64)
    if truth.shape != band.center.shape:
        raise FlashgenError(f"truth has shape {truth.shape} but the band has {band.center.shape} bins")
    return (band.lo <= truth) & (truth <= band.hi)
