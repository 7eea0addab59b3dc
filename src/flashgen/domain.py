"""The training domain of a conditional model's inputs, and which condition rows leave it.

A conditional model is trained on a finite region of its conditions (electron true pT in
0-20 GeV, and only pT <= 20/cosh(eta) inside that box). Outside that region it extrapolates
without a word. :class:`Domain` records, when a model is trained, the range of every condition
and a cheap estimate of their joint support: for every pair of conditions, which cells of a
grid of equal-population bins hold training rows. At generation time :meth:`Domain.outside`
counts the rows outside the ranges and, inside them, in cells no training row reached.

The pairwise grids see holes in two-dimensional projections (such as pT <= 20/cosh(eta)), not
holes visible only in three or more dimensions; with ``b`` bins per axis a cell holds ~n/b²
training rows, so ``b`` is chosen to keep ~10 or more per occupied cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

__all__ = ["Domain", "Outside"]

MAX_BINS = 20
"""Bins per axis of a pairwise support grid at most."""
ROWS_PER_CELL = 10
"""Training rows per cell aimed at when choosing the number of bins."""


@dataclass(frozen=True)
class Outside:
    """Condition rows outside a model's training domain.

    Attributes:
        rows: number of rows checked.
        out_of_range: rows with a condition outside its training range (or not finite).
        out_of_support: rows inside the ranges but in a cell of a pairwise grid that no
            training row reached.
        worst: the condition (or pair) most often outside, for messages.
    """

    rows: int
    out_of_range: int
    out_of_support: int
    worst: str = ""

    @property
    def total(self) -> int:
        return self.out_of_range + self.out_of_support

    @property
    def fraction(self) -> float:
        return self.total / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class Domain:
    """Ranges and pairwise support of the training conditions.

    Attributes:
        names: condition columns.
        low, high: per-condition training range (physical units).
        edges: per-condition inner bin edges of the support grids.
        occupied: ``"a|b" -> bool array (bins_a, bins_b)`` of grid cells holding training rows.
    """

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    edges: tuple[tuple[float, ...], ...] = ()
    occupied: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def fit(cls, columns: Mapping[str, np.ndarray]) -> Domain:
        """The domain of training conditions ``columns`` (``name -> array (n_rows,)``)."""
        names = tuple(columns)
        values = {n: np.asarray(columns[n], dtype=np.float64) for n in names}
        n = min((len(v) for v in values.values()), default=0)
        bins = int(np.clip(np.sqrt(max(n, 1) / ROWS_PER_CELL), 1, MAX_BINS))
        low = tuple(float(np.nanmin(values[k])) for k in names)
        high = tuple(float(np.nanmax(values[k])) for k in names)
        edges = tuple(tuple(np.unique(np.nanquantile(values[k], np.linspace(0, 1, bins + 1)[1:-1])).tolist())
                      for k in names)
        occupied = {}
        for (i, a), (j, b) in combinations(enumerate(names), 2):
            ia, ib = np.searchsorted(edges[i], values[a]), np.searchsorted(edges[j], values[b])
            grid = np.zeros((len(edges[i]) + 1, len(edges[j]) + 1), dtype=bool)
            grid[ia, ib] = True
            occupied[f"{a}|{b}"] = grid
        return cls(names, low, high, edges, occupied)

    def outside(self, columns: Mapping[str, np.ndarray]) -> Outside:
        """Count the rows of ``columns`` outside the ranges or the pairwise support."""
        values = {k: np.asarray(columns[k], dtype=np.float64) for k in self.names}
        n = len(next(iter(values.values()))) if values else 0
        out_range = np.zeros(n, dtype=bool)
        worst, worst_count = "", 0
        for k, lo, hi in zip(self.names, self.low, self.high, strict=True):
            bad = ~((values[k] >= lo) & (values[k] <= hi))
            out_range |= bad
            if bad.sum() > worst_count:
                worst, worst_count = f"{k} outside [{lo:.4g}, {hi:.4g}]", int(bad.sum())
        out_support = np.zeros(n, dtype=bool)
        for key, grid in self.occupied.items():
            a, b = key.split("|")
            i, j = self.names.index(a), self.names.index(b)
            cells = grid[np.searchsorted(self.edges[i], values[a]), np.searchsorted(self.edges[j], values[b])]
            bad = ~cells & ~out_range
            out_support |= bad
            if bad.sum() > worst_count:
                worst, worst_count = f"({a}, {b}) where no training row was", int(bad.sum())
        return Outside(n, int(out_range.sum()), int(out_support.sum()), worst)

    def state(self) -> dict[str, Any]:
        """Plain values for the model file."""
        return {"names": list(self.names), "low": list(self.low), "high": list(self.high),
                "edges": [list(e) for e in self.edges],
                "occupied": {k: v.astype(int).tolist() for k, v in self.occupied.items()}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Domain:
        """Rebuild a domain from :meth:`state`."""
        return cls(tuple(state["names"]), tuple(state["low"]), tuple(state["high"]),
                   tuple(tuple(e) for e in state["edges"]),
                   {k: np.asarray(v, dtype=bool) for k, v in state["occupied"].items()})
