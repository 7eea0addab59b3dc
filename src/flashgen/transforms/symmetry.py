"""Exact reflection symmetries of the reference, built into the preprocessing.

Drell-Yan pp → Z/γ* → μμ in a forward-backward symmetric detector is invariant under z → −z
(every pz flipped); after the rotation to μ1 py = 0 it is invariant under the transverse mirror
py → −py of every object (measured: ``benchmarks/results/symmetry.md``). A model that learns the
events *folded* to one half-space sees each configuration's two mirror images as one, so it has
twice the events per degree of freedom for every symmetry folded; the inverse unfolds with a
random sign per event, so the generated sample is symmetric by construction.
"""

from __future__ import annotations

import torch

from ..errors import FlashgenError
from .pipeline import Columns, Transform, need

__all__ = ["Reflection"]


class Reflection(Transform):
    """Fold a reflection symmetry ``columns → −columns``: the event is mirrored wherever
    ``reference < 0``, so that ``reference >= 0`` on the model side.

    The forward map keeps the event's mirror class (the sign is dropped); the inverse returns
    the event or its mirror image with probability 1/2 each (drawn from ``generator``), so
    ``forward(inverse(z)) == z`` exactly for ``z`` on the folded side and every generated
    sample is exactly symmetric in distribution. The folded ``reference`` is
    ``|reference|``; model it with e.g. :class:`~flashgen.transforms.Log` (no hard edge at 0).

    Arguments:
        columns: the columns that change sign together (e.g. every pz), ``reference`` included.
        reference: the column whose sign is folded away.
    """

    kind = "reflection"

    def __init__(self, columns: list[str], reference: str) -> None:
        if reference not in columns:
            raise FlashgenError(f"reflection: the reference column '{reference}' must be one of "
                                f"the reflected columns {columns}")
        self.columns, self.reference = list(columns), reference

    def fit(self, cols: Columns) -> None:
        need(cols, self.columns, "reflection")

    def _mirror(self, cols: Columns, sign: torch.Tensor) -> Columns:
        return {**cols, **{c: sign * cols[c] for c in self.columns}}

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        ref = cols[self.reference]
        out = self._mirror(cols, torch.where(ref < 0, -1.0, 1.0).to(ref))
        out[self.reference] = ref.abs()  # exactly |x|, also for -0.0
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        # the event or its mirror image, with probability 1/2 each (a generated reference < 0,
        # which a model of the folded side rarely makes, is mirrored as a whole, never alone)
        ref = cols[self.reference]
        flip = torch.rand(ref.shape, generator=generator, dtype=ref.dtype, device=ref.device) < 0.5
        return self._mirror(cols, torch.where(flip, -1.0, 1.0).to(ref))
