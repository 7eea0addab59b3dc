"""Histogram binning chosen from the reference sample, shared by the χ² test and the plots."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["auto_edges", "counts_with_flow", "is_discrete"]

MAX_INTEGER_BINS = 60


def is_discrete(values: np.ndarray) -> bool:
    """Whether every finite value is an integer (counts such as ``nvtx`` or a 0/1 flag)."""
    v = np.asarray(values)
    if np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.bool_):
        return True
    v = v[np.isfinite(v)]
    return v.size > 0 and bool(np.all(v == np.round(v)))


def auto_edges(reference: np.ndarray, *, bins: int = 40,
               hint: Sequence[float] | None = None,
               quantiles: tuple[float, float] = (0.001, 0.999)) -> np.ndarray:
    """Bin edges for comparing a quantity, chosen from the reference sample.

    Arguments:
        reference: reference values, shape ``(n_events,)``; NaN ignored.
        bins: number of bins for continuous data.
        hint: ``(low, high, n_bins)`` of an observable with a natural range (e.g. Δφ in
            [-π, π]); used as given.
        quantiles: range of continuous data as reference quantiles; the rest goes to the
            under- and overflow bins of :func:`counts_with_flow`.

    Returns:
        Increasing edges, shape ``(n_bins + 1,)``. Integer data get unit-width bins centred on
        the integers (merged to at most 60 bins).
    """
    if hint is not None:
        low, high, n = hint
        return np.linspace(float(low), float(high), int(n) + 1)
    v = np.asarray(reference, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.array([-0.5, 0.5])
    if is_discrete(v):
        lo, hi = np.quantile(v, [0.0005, 0.9995]) if v.size > 2000 else (v.min(), v.max())
        lo, hi = int(np.floor(lo)), int(np.ceil(hi))
        step = max(1, int(np.ceil((hi - lo + 1) / MAX_INTEGER_BINS)))
        return np.arange(lo, hi + step + 1, step, dtype=np.float64) - 0.5
    lo, hi = np.quantile(v, quantiles)
    if not hi > lo:
        lo, hi = v.min(), v.max()
    if not hi > lo:
        width = max(abs(lo) * 0.01, 1e-6)
        lo, hi = lo - width, hi + width
    return np.linspace(lo, hi, bins + 1)


def counts_with_flow(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin with an underflow and an overflow bin: shape ``(len(edges) + 1,)``.

    NaN values are not counted. Bins are closed on the left, the last in-range bin on both sides.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    inner, _ = np.histogram(v, bins=edges)
    under = int(np.count_nonzero(v < edges[0]))
    over = int(np.count_nonzero(v > edges[-1]))
    return np.concatenate([[under], inner, [over]]).astype(np.int64)
