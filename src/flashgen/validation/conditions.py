"""Conditional checks: the same metrics in slices of a condition variable.

A :class:`Slicing` names a variable that splits events into bins (``nvtx`` at the reference
median for Z→μμ; the true pT and |η| of an electron), the quantities to compare in each bin
(``targets``) and optionally a 0/1 column whose mean (an efficiency) is compared per bin with its
binomial error. Registered slicings apply when their columns are available.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data import EventTable
from ..errors import FlashgenError

__all__ = ["SLICINGS", "ResolvedSlicing", "Slicing", "applicable_slicings", "register_slicing"]


@dataclass(frozen=True)
class Slicing:
    """How to slice events by a condition.

    Arguments:
        name: identifier, e.g. ``"nvtx"``.
        variable: ``EventTable -> array (n_events,)`` whose value selects the slice.
        requires: columns ``variable`` reads.
        label: how to print the variable (e.g. ``"|gen_eta|"``).
        targets: quantities (features or observables) compared within each slice; those not
            available are skipped.
        efficiency: a 0/1 column whose mean is compared per slice (e.g. ``"detected"``).
        edges: fixed inner bin edges; or
        quantiles: inner edges as quantiles of the reference (e.g. ``(0.5,)`` splits at the
            median). Slices are ``[edge_k, edge_k+1)`` with open outer ends.
        unit: unit of the variable.
    """

    name: str
    variable: Callable[[EventTable], np.ndarray] = field(repr=False)
    requires: tuple[str, ...]
    label: str
    targets: tuple[str, ...] = ()
    efficiency: str | None = None
    edges: tuple[float, ...] | None = None
    quantiles: tuple[float, ...] | None = None
    unit: str = ""

    def resolve(self, reference_values: np.ndarray, quantities: Iterable[str],
                columns: Iterable[str]) -> ResolvedSlicing | None:
        """Fix the bin edges from the reference and keep what is available.

        Arguments:
            reference_values: the slicing variable of the reference, shape ``(n_events,)``.
            quantities: names of the compared quantities (targets must be among them).
            columns: columns of both tables (the efficiency column must be among them).

        Returns:
            The resolved slicing, or ``None`` when nothing is left to compare.
        """
        have = set(quantities)
        targets = tuple(t for t in self.targets if t in have)
        efficiency = self.efficiency if self.efficiency in set(columns) else None
        if not targets and efficiency is None:
            return None
        v = np.asarray(reference_values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return None
        if self.edges is not None:
            inner = np.asarray(self.edges, dtype=np.float64)
        elif self.quantiles is not None:
            inner = np.quantile(v, self.quantiles)
        else:
            raise FlashgenError(f"slicing '{self.name}' needs edges or quantiles")
        inner = np.unique(inner)
        edges = np.concatenate([[-np.inf], inner, [np.inf]])
        keep = [k for k in range(len(edges) - 1)
                if np.any((v >= edges[k]) & (v < edges[k + 1]))]
        if not keep:
            return None
        edges_kept = [(float(edges[k]), float(edges[k + 1])) for k in keep]
        return ResolvedSlicing(self, edges_kept, targets, efficiency)


@dataclass(frozen=True)
class ResolvedSlicing:
    """A :class:`Slicing` with bin edges fixed from the reference: ``bins[k] = (low, high)``.

    ``target_edges[(k, target)]`` holds histogram edges of a target within slice ``k`` (chosen
    from the reference events of that slice); targets without an entry use their global edges.
    """

    spec: Slicing
    bins: list[tuple[float, float]]
    targets: tuple[str, ...]
    efficiency: str | None
    target_edges: dict[tuple[int, str], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def labels(self) -> list[str]:
        """Human-readable bin ranges, e.g. ``"nvtx < 21"`` or ``"1.5 <= |gen_eta| < 2.5"``."""
        out = []
        for lo, hi in self.bins:
            var = self.spec.label
            if np.isinf(lo) and np.isinf(hi):
                out.append(f"all {var}")
            elif np.isinf(lo):
                out.append(f"{var} < {hi:.4g}")
            elif np.isinf(hi):
                out.append(f"{var} >= {lo:.4g}")
            else:
                out.append(f"{lo:.4g} <= {var} < {hi:.4g}")
        return out

    def mask(self, values: np.ndarray, k: int) -> np.ndarray:
        """Boolean mask of events in bin ``k``."""
        lo, hi = self.bins[k]
        return (values >= lo) & (values < hi)


SLICINGS: dict[str, Slicing] = {}
"""Registry of conditional checks by name."""


def register_slicing(slicing: Slicing, *, replace: bool = False) -> Slicing:
    """Add ``slicing`` to :data:`SLICINGS` (``replace=True`` to overwrite a name)."""
    if slicing.name in SLICINGS and not replace:
        raise FlashgenError(f"a slicing named '{slicing.name}' is already registered")
    SLICINGS[slicing.name] = slicing
    return slicing


def applicable_slicings(columns: Iterable[str],
                        names: Sequence[str] | None = None) -> list[Slicing]:
    """Registered slicings whose ``requires`` columns are all in ``columns``."""
    available = set(columns)
    pool = [SLICINGS[n] for n in names] if names is not None else list(SLICINGS.values())
    return [s for s in pool if set(s.requires) <= available]


def _column(name: str) -> Callable[[EventTable], np.ndarray]:
    def get(table: EventTable) -> np.ndarray:
        return np.asarray(table[name], dtype=np.float64)
    return get


def _abs_column(name: str) -> Callable[[EventTable], np.ndarray]:
    def get(table: EventTable) -> np.ndarray:
        return np.abs(np.asarray(table[name], dtype=np.float64))
    return get


register_slicing(Slicing(
    "nvtx", _column("nvtx"), ("nvtx",), "nvtx", targets=("met", "iso0"),
    quantiles=(0.5,)))
register_slicing(Slicing(
    "gen_pt", _column("gen_pt"), ("gen_pt",), "gen_pt", targets=("pt",), efficiency="detected",
    quantiles=(0.25, 0.5, 0.75), unit="GeV"))
register_slicing(Slicing(
    "abs_gen_eta", _abs_column("gen_eta"), ("gen_eta",), "|gen_eta|", targets=("pt",),
    efficiency="detected", edges=(0.5, 1.5)))
