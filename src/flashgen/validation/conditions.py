"""Conditional checks: the same metrics in slices of a condition variable.

A :class:`~flashgen.sources.registry.Slicing`, declared by a source's profile, names a variable
that splits events into bins, the quantities to compare in each bin (``targets``) and optionally
a 0/1 column whose mean (an efficiency) is compared per bin with its binomial error. Registered
slicings apply when their columns are available; :func:`resolve_slicing` fixes their bins from
the reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import FlashgenError
from ..sources.registry import SLICINGS, Slicing, applicable, names_of, register_slicing

__all__ = ["SLICINGS", "ResolvedSlicing", "Slicing", "applicable_slicings", "register_slicing",
           "resolve_slicing"]


def resolve_slicing(spec: Slicing, reference_values: np.ndarray, quantities: Iterable[str],
                    columns: Iterable[str]) -> ResolvedSlicing | None:
    """Fix the bin edges of ``spec`` from the reference and keep what is available.

    Arguments:
        spec: the slicing.
        reference_values: the slicing variable of the reference, shape ``(n_events,)``.
        quantities: names of the compared quantities (targets must be among them).
        columns: columns of both tables (the efficiency column must be among them).

    Returns:
        The resolved slicing, or ``None`` when nothing is left to compare.
    """
    have = set(quantities)
    targets = tuple(t for t in spec.targets if t in have)
    efficiency = spec.efficiency if spec.efficiency in set(columns) else None
    if not targets and efficiency is None:
        return None
    v = np.asarray(reference_values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    if spec.edges is not None:
        inner = np.asarray(spec.edges, dtype=np.float64)
    elif spec.quantiles is not None:
        inner = np.quantile(v, spec.quantiles)
    else:
        raise FlashgenError(f"slicing '{spec.name}' needs edges or quantiles")
    inner = np.unique(inner)
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    keep = [k for k in range(len(edges) - 1) if np.any((v >= edges[k]) & (v < edges[k + 1]))]
    if not keep:
        return None
    return ResolvedSlicing(spec, [(float(edges[k]), float(edges[k + 1])) for k in keep], targets,
                           efficiency)


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


def applicable_slicings(columns: Iterable[str],
                        names: Sequence[str] | None = None) -> list[Slicing]:
    """Registered slicings whose ``requires`` columns are all in ``columns``."""
    return applicable(names_of(SLICINGS, names, "slicing"), columns)
