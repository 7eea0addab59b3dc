"""Statistics of oversampled samples: copies of one generator-level event are correlated.

A flash simulation passes each generator-level event ``e`` K times through its model
(``flashgen generate --oversample K``: columns ``event`` and ``copy``). The copies share the
event's truth, so their histogram entries are not independent: summing every row's weight in
quadrature (the naive ``Σ w²``) underestimates the variance. Folding the copies of each event
first, ``X_eb = Σ_{rows r of e in bin b} w_r``, the bin content ``c_b = Σ_e X_eb`` is a sum of N
independent per-event contributions, and its variance is estimated from their spread:

    ``V_b = Σ_e X_eb² − c_b² / N``

(N the generator-level events, those whose copies all failed the efficiency included), as done
for oversampled CMS FlashSim samples (Vaselli et al., CMS FlashSim, 2024: ×25 oversampling
reduced an analysis histogram's statistical error only by about ½, not 1/5).

The N generator-level events are a fixed input, so ``V_b`` is the variance at fixed N. The
Poisson "sumw2" of the folded weights, ``Σ_e X_eb²``, also counts the fluctuation of N itself,
which no number of copies reduces: it is ``V_b + c_b² / N``, too large where a bin holds a
sizeable share of the events (×1.5-1.7 in the central bins of the toy in
``tests/stats/test_oversampling.py``), and with it the gain of K independent copies would stay
at ``K / (1 + (K − 1) Σ_b P_b²)`` (``P_b`` the bin's share; 4.4 for K = 10 in 12 bins of a
normal distribution) instead of K. For one copy per event, ``V_b = c_b (1 − c_b / N)`` is the
binomial variance.

The gain of K copies: per generator-level event the histogram is ``H_b = c_b / K`` with variance
``V_b / K²``; one copy of each event (or a fully simulated sample of N events) has the
multinomial variance ``N p_b (1 − p_b)`` with ``p_b = H_b / N`` (the single-copy bin's variance
is its expected count ``H_b`` up to the same fixed-N factor). So

    ``gain = Σ_b N p_b (1 − p_b) / Σ_b (V_b / K²)``

is the number of fully simulated events the N events with K copies are worth, in units of N:
1 for K = 1 or for K identical copies, K for independent ones; the statistical error relative to
one copy is ``1 / sqrt(gain)`` (``1 / sqrt(K)`` naively).

References:
    F. Vaselli et al. (CMS), "FlashSim: an end-to-end simulation with normalizing flows" (2024):
    oversampling and the folding of the copies of each event in the analysis of oversampled
    samples.
    R. Barlow, C. Beeston, "Fitting using finite Monte Carlo samples", Comput. Phys. Commun. 77
    (1993) 219 (the variance of a weighted histogram from the sum of squared weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FlashgenError
from .histogram_worth import bin_index, check_edges

__all__ = ["FoldedHistogram", "OversamplingGain", "extra_fraction_variance", "folded_histogram",
           "oversampling_gain"]


@dataclass(frozen=True)
class FoldedHistogram:
    """A histogram of an oversampled sample with the variance that folds the copies of each event.

    Arrays have shape ``(K,)`` for ``K`` bins, ``(K + 2,)`` with under- and overflow bins
    (``flow``); ``edges`` has shape ``(K + 1,)``.
    """

    edges: np.ndarray
    counts: np.ndarray
    """Sum of the weights per bin."""
    variance: np.ndarray
    """Folded variance ``Σ_e X_eb² − c_b² / N`` (module docstring), clipped at 0."""
    naive_variance: np.ndarray
    """``Σ w²`` per bin: right only if every row were independent."""
    events: int
    """Distinct generator-level events among all rows (rows with NaN values included)."""
    copies: int
    """Most rows sharing one event."""

    @property
    def sigma(self) -> np.ndarray:
        """Folded statistical error per bin, ``sqrt(variance)``."""
        return np.sqrt(self.variance)

    @property
    def inflation(self) -> np.ndarray:
        """``variance / naive_variance`` per bin (NaN where a bin is empty)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.naive_variance > 0, self.variance / self.naive_variance, np.nan)

    def to_json(self) -> dict[str, Any]:
        return {"edges": self.edges.tolist(), "counts": self.counts.tolist(),
                "variance": self.variance.tolist(), "naive_variance": self.naive_variance.tolist(),
                "events": self.events, "copies": self.copies}


def _event_ids(event: np.ndarray, n: int) -> np.ndarray:
    """``event`` as int64, refused unless ``(n,)`` non-negative integers (integral floats pass)."""
    e = np.asarray(event)
    if e.shape != (n,):
        raise FlashgenError(f"values and event must be 1D of equal length, got ({n},) and {e.shape}")
    if e.dtype.kind not in "iuf" or (e.size and (
            (e.dtype.kind == "f" and not np.all(np.isfinite(e) & (e == np.floor(e)))) or e.min() < 0)):
        low = f", minimum {e.min()}" if e.size and e.dtype.kind in "iu" else ""
        raise FlashgenError("'event' must hold non-negative integers (the condition row of each row), "
                            f"got dtype {e.dtype}{low}")
    return e.astype(np.int64)


def folded_histogram(values: np.ndarray, event: np.ndarray, edges: np.ndarray, *,
                     weights: np.ndarray | None = None, flow: bool = False) -> FoldedHistogram:
    """Histogram of an oversampled sample with the variance that folds the copies of each event.

    Vectorised (one sort of the rows' events, one of their (event, bin) pairs): 10⁷ rows take a
    few seconds.

    Arguments:
        values: one value per row, shape ``(n,)``; NaN (a copy the efficiency rejected) and ±inf
            are in no bin but their event still counts in ``N``.
        event: generator-level event (condition row) of each row, non-negative integers ``(n,)``.
        edges: strictly increasing finite bin edges ``(K + 1,)``.
        weights: weight of each row ``(n,)`` (default 1).
        flow: add an underflow and an overflow bin at the two ends (bins as
            :func:`flashgen.validation.binning.counts_with_flow`).

    Returns:
        The :class:`FoldedHistogram`.
    """
    edges = check_edges(edges)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise FlashgenError(f"values must be 1D, got shape {values.shape}")
    event = _event_ids(event, len(values))
    w = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != values.shape:
        raise FlashgenError(f"weights of shape {w.shape} for values of shape {values.shape}")
    # dense event index (no overflow of event * bins for large ids) and the copies per event
    ids, dense, per = np.unique(event, return_inverse=True, return_counts=True)
    where, n_bins = bin_index(values, edges, flow)
    used = where >= 0
    counts = np.bincount(where[used], w[used], minlength=n_bins)
    naive = np.bincount(where[used], w[used] ** 2, minlength=n_bins)
    # one key per (event, bin): the per-event sums, squared, summed per bin
    keys, inverse = np.unique(dense[used].astype(np.int64) * n_bins + where[used], return_inverse=True)
    per_event = np.bincount(inverse, w[used], minlength=len(keys))
    n_events = max(len(ids), 1)
    variance = np.bincount(keys % n_bins, per_event**2, minlength=n_bins) - counts**2 / n_events
    return FoldedHistogram(edges, counts, np.clip(variance, 0.0, None), naive, int(len(ids)),
                           int(per.max()) if per.size else 0)


@dataclass(frozen=True)
class OversamplingGain:
    """What K copies of N generator-level events are worth in one histogram (module docstring)."""

    events: int
    """N: distinct generator-level events."""
    copies: int
    """K: most rows sharing one event."""
    gain: float
    """Fully simulated events per generator-level event: 1 (identical copies) to K (independent)."""
    equivalent_events: float
    """``gain * N``."""
    error_ratio: float
    """Statistical error relative to one copy, ``1 / sqrt(gain)``."""
    naive_error_ratio: float
    """``1 / sqrt(K)``: what independent copies would give."""
    rows: int = 0
    """Rows of the sample (``N K`` less any missing copies)."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (a gain that cannot be computed becomes ``None``)."""
        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {"events": self.events, "copies": self.copies, "rows": self.rows, "gain": num(self.gain),
                "equivalent_events": num(self.equivalent_events), "error_ratio": num(self.error_ratio),
                "naive_error_ratio": num(self.naive_error_ratio)}


def oversampling_gain(values: np.ndarray, event: np.ndarray, edges: np.ndarray) -> OversamplingGain:
    """Statistical worth of an oversampled histogram (derivation in the module docstring).

    Arguments:
        values, event, edges: as :func:`folded_histogram` (rows outside the edges or NaN count
            in no bin; their events count in N).

    Returns:
        The :class:`OversamplingGain`; its ``gain`` is NaN when no bin has any spread (e.g.
        every row in one bin).
    """
    h = folded_histogram(values, event, edges)
    k = max(h.copies, 1)
    var = float(np.sum(h.variance)) / k**2
    p = h.counts / k / max(h.events, 1)
    single = float(np.sum(h.events * p * (1.0 - p)))
    gain = single / var if var > 0 and single > 0 else float("nan")
    return OversamplingGain(h.events, k, gain, gain * h.events, 1.0 / np.sqrt(gain), 1.0 / np.sqrt(k),
                            int(np.size(values)))


def extra_fraction_variance(values: np.ndarray, event: np.ndarray, edges: np.ndarray, *,
                            flow: bool = True) -> np.ndarray:
    """Variance of the generated fractions per bin beyond the multinomial one a χ² already counts.

    With ``c_b`` the counts, ``M`` the rows with finite values (the histogram's total with the
    flow bins) and ``V_b`` the folded variance, the fraction ``c_b / M`` has variance ``V_b / M²``
    of which the χ² counts ``c_b (1 − c_b / M) / M²`` (as for independent rows): the rest,
    ``(V_b − c_b (1 − c_b / M)) / M²`` clipped at 0, is returned (0 for one copy per event).

    Arguments:
        values, event, edges: as :func:`folded_histogram`.
        flow: with under- and overflow bins (as :func:`flashgen.validation.binning.counts_with_flow`).

    Returns:
        Variances of shape ``(K + 2,)`` with ``flow``, ``(K,)`` without.
    """
    h = folded_histogram(values, event, edges, flow=flow)
    total = float(np.count_nonzero(np.isfinite(np.asarray(values, dtype=np.float64))))
    if total <= 0:
        return np.zeros_like(h.counts)
    return np.clip(h.variance - h.counts * (1.0 - h.counts / total), 0.0, None) / total**2
