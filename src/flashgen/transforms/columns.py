"""Column-wise invertible steps: logs, logits, asinh, dequantisation, zero padding, ordering,
residuals with respect to a condition."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..errors import FlashgenError
from .evidence import core
from .pipeline import Columns, Transform, need

__all__ = ["AbsoluteValue", "Asinh", "Dequantize", "Log", "Logit", "Multiplicity", "Residual", "SortDescending",
           "ZeroPadding", "wrap_angle"]


class Logit(Transform):
    """``y = logit((x − low) / (high − low))`` for a column confined to ``(low, high)`` by a cut.

    Generated values then always respect the cut (e.g. the selection 50 < m(μμ) < 150 GeV).

    Arguments:
        column: column name.
        low, high: the open interval of allowed values (same unit as the column).
    """

    kind = "logit"

    def __init__(self, column: str, low: float, high: float) -> None:
        if not low < high:
            raise FlashgenError(f"logit needs low < high, got {low} >= {high}")
        self.column, self.low, self.high = column, float(low), float(high)

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "logit transform")
        x = cols[self.column]
        if not bool(((x > self.low) & (x < self.high)).all()):
            raise FlashgenError(f"column '{self.column}' has values outside ({self.low}, {self.high})")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        u = (cols[self.column] - self.low) / (self.high - self.low)
        # a value inside (low, high) but within rounding of an edge gives u = 0 or 1 exactly (an
        # infinite logit that would turn the standardised column into NaN): nudge it one ulp in
        zero, one = u.new_zeros(()), u.new_ones(())
        u = torch.where(u == 0, torch.nextafter(zero, one),
                        torch.where(u == 1, torch.nextafter(one, zero), u))
        return {**cols, self.column: torch.log(u) - torch.log1p(-u)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        return {**cols, self.column: self.low + (self.high - self.low) * torch.sigmoid(cols[self.column])}


class Log(Transform):
    """``y = log(x + offset)`` for positive or heavy-tailed columns; inverse clipped at ``lower``.

    Arguments:
        column: column name.
        offset: added before the log (same unit as the column); 0 for strictly positive values.
        lower: physical lower bound restored by the exact inverse (e.g. 0 for a pT or an isolation).
    """

    kind = "log"

    def __init__(self, column: str, offset: float = 0.0, lower: float | None = 0.0) -> None:
        self.column, self.offset, self.lower = column, float(offset), lower

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "log transform")
        low = float((cols[self.column] + self.offset).min())
        if not low > 0:
            raise FlashgenError(f"column '{self.column}' has values <= {-self.offset}; "
                                f"a log transform with offset {self.offset} cannot represent them")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return {**cols, self.column: torch.log(cols[self.column] + self.offset)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        x = torch.exp(cols[self.column]) - self.offset
        if exact and self.lower is not None:
            x = x.clamp_min(self.lower)
        return {**cols, self.column: x}


class AbsoluteValue(Transform):
    """Add ``|x|`` as a column ``abs_<x>`` (the inverse drops it): for a condition on which
    the data depend symmetrically, e.g. a detector's resolution on |eta|, which a network reads
    far more easily than the signed value.

    Arguments:
        column: column name.
    """

    kind = "absolute_value"

    def __init__(self, column: str) -> None:
        self.column = column

    @property
    def output(self) -> str:
        return f"abs_{self.column}"

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "absolute value")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return {**cols, self.output: cols[self.column].abs()}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        return {k: v for k, v in cols.items() if k != self.output}


class Dequantize(Transform):
    """Integers -> continuous: add ``u ~ U[0, 1)``; the inverse takes the floor.

    ``floor(k + u) = k`` exactly, and a model that learns the density of ``k + u`` returns ``k``
    with its right probability: the round trip is unbiased (unlike Gaussian smearing + floor,
    which shifts the mean by half a unit).

    Arguments:
        column: an integer-valued column (e.g. ``nvtx``).
    """

    kind = "dequantize"

    def __init__(self, column: str) -> None:
        self.column = column
        self.minimum = 0.0

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "dequantisation")
        x = cols[self.column]
        if not torch.equal(x, torch.floor(x)):
            raise FlashgenError(f"column '{self.column}' is not integer-valued; do not dequantise it")
        self.minimum = float(x.min())

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        x = cols[self.column]
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return {**cols, self.column: x + u}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        if not exact:
            return cols
        return {**cols, self.column: torch.floor(cols[self.column]).clamp_min(self.minimum)}


class GaussianSmear(Dequantize):
    """Integers -> continuous by Gaussian smearing (the Z→μμ analysis paper's treatment of
    ``nvtx``): add ``N(0, sigma)``; the inverse rounds to the nearest integer.

    The paper takes the floor of the generated value; for values smeared around an integer
    that returns ``k - 1`` for half of them (a shift of -0.5 on average), so the inverse here
    rounds instead. Prefer :class:`Dequantize` (uniform noise, exact round trip) for new presets.

    Arguments:
        column: an integer-valued column.
        sigma: width of the smearing (same unit as the column).
    """

    kind = "gaussian_smear"

    def __init__(self, column: str, sigma: float = 0.5) -> None:
        if not sigma > 0:
            raise FlashgenError(f"smearing width must be positive, got {sigma}")
        super().__init__(column)
        self.sigma = float(sigma)

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        x = cols[self.column]
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return {**cols, self.column: x + self.sigma * noise}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        if not exact:
            return cols
        return {**cols, self.column: torch.round(cols[self.column]).clamp_min(self.minimum)}


class ZeroPadding(Transform):
    """A spike at zero (absent jets, an isolation of exactly 0) -> a flat shelf in an empty gap.

    Zeros become uniform noise in ``[low, threshold)``, a range where the data have no other
    values: for jets (pT = 0 or >= 10 GeV) the default shelf is ``[threshold/2, threshold)``; for
    a non-negative quantity with some exact zeros use ``threshold=0`` and a negative ``low``. A
    smooth model learns the shelf instead of a point mass; the exact inverse maps everything below
    ``threshold`` back to 0, so the fraction of zeros is preserved.

    Arguments:
        columns: columns with a spike at zero.
        threshold: every non-zero value is at or above it (same unit as the columns).
        low: lower edge of the shelf (default ``threshold / 2``).
    """

    kind = "zero_padding"

    def __init__(self, columns: list[str], threshold: float, low: float | None = None) -> None:
        self.columns, self.threshold = list(columns), float(threshold)
        self.low = float(low) if low is not None else self.threshold / 2
        if not self.low < self.threshold:
            raise FlashgenError(f"zero padding needs low < threshold, got {self.low} >= {self.threshold}")

    def fit(self, cols: Columns) -> None:
        need(cols, self.columns, "zero padding")
        for c in self.columns:
            x = cols[c]
            bad = (x != 0) & (x < self.threshold)
            if bool(bad.any()):
                raise FlashgenError(f"column '{c}' has non-zero values below the threshold "
                                    f"{self.threshold}; set a lower threshold")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        out = dict(cols)
        for c in self.columns:
            x = cols[c]
            u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            out[c] = torch.where(x == 0, self.low + (self.threshold - self.low) * u, x)
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        if not exact:
            return cols
        out = dict(cols)
        for c in self.columns:
            out[c] = torch.where(cols[c] < self.threshold, torch.zeros_like(cols[c]), cols[c])
        return out


class Asinh(Transform):
    """``y = asinh(x / scale)``: linear near zero, logarithmic in both tails.

    For signed, heavy-tailed columns (a muon's pz, the missing momentum components) whose tails
    would otherwise sit many standard deviations out, where splines and MLPs learn poorly.

    Arguments:
        column: column name.
        scale: where the map turns from linear to logarithmic (same unit as the column).
    """

    kind = "asinh"

    def __init__(self, column: str, scale: float) -> None:
        if not scale > 0:
            raise FlashgenError(f"asinh scale must be positive, got {scale}")
        self.column, self.scale = column, float(scale)

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "asinh transform")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return {**cols, self.column: torch.asinh(cols[self.column] / self.scale)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        return {**cols, self.column: torch.sinh(cols[self.column]) * self.scale}


class SortDescending(Transform):
    """Keep ordered slots ordered: the exact inverse sorts ``columns`` in descending order.

    Arguments:
        columns: slots that are ordered in the data (e.g. jet1_pt >= jet2_pt >= ...).
    """

    kind = "sort_descending"
    orders = True

    def __init__(self, columns: list[str]) -> None:
        self.columns = list(columns)

    def fit(self, cols: Columns) -> None:
        need(cols, self.columns, "ordering")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return cols

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        if not exact:
            return cols
        stacked = torch.stack([cols[c] for c in self.columns], dim=1)
        ordered = torch.sort(stacked, dim=1, descending=True).values
        return {**cols, **{c: ordered[:, j] for j, c in enumerate(self.columns)}}


class Multiplicity(Transform):
    """The number of present slots as a coordinate of its own (zero-padded jets: how many).

    With zero-padded slots a smooth model makes the multiplicity a by-product of where each
    slot's value lands; here it is one integer coordinate ``name`` (follow it with
    :class:`Dequantize`), learnt jointly with the slots. Forward adds ``name`` = the number of
    non-zero ``columns``. The exact inverse sorts the slots in descending order, keeps the first
    ``name`` of them and zeroes the others; a kept slot the model left at zero is raised to
    ``threshold`` (no present slot lies below it in the data), so the generated multiplicity is
    ``name`` exactly.

    Arguments:
        columns: the ordered slots (e.g. jet1_pt..jet5_pt), 0 where absent.
        threshold: smallest value of a present slot (same unit as the columns).
        name: the multiplicity column added on the model side.
    """

    kind = "multiplicity"

    def __init__(self, columns: list[str], threshold: float, name: str = "multiplicity") -> None:
        self.columns, self.threshold, self.name = list(columns), float(threshold), str(name)

    def fit(self, cols: Columns) -> None:
        need(cols, self.columns, "multiplicity")
        if self.name in cols:
            raise FlashgenError(f"multiplicity column '{self.name}' already exists")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        present = torch.stack([cols[c] != 0 for c in self.columns], dim=1)
        return {**cols, self.name: present.sum(dim=1).to(cols[self.columns[0]].dtype)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        out = {k: v for k, v in cols.items() if k != self.name}
        if not exact:
            return out
        stacked = torch.stack([cols[c] for c in self.columns], dim=1)
        ordered = torch.sort(stacked, dim=1, descending=True).values
        count = torch.clamp(torch.round(cols[self.name]), 0, len(self.columns))
        slot = torch.arange(len(self.columns), device=ordered.device)[None, :]
        kept = slot < count[:, None]
        ordered = torch.where(kept, torch.clamp(ordered, min=self.threshold), torch.zeros_like(ordered))
        return {**out, **{c: ordered[:, j] for j, c in enumerate(self.columns)}}


class Residual(Transform):
    """Model a reconstructed quantity relative to its true value (a condition column).

    ``kind="log-ratio"``: ``y = log(x / ref)`` (a relative response, e.g. pT'/pT);
    ``kind="difference"``: ``y = x - ref``; ``kind="angle"``: ``y = x - ref`` wrapped to
    [-pi, pi) (an azimuth). A residual that is constant in the training data
    (e.g. a detector that does not change eta) is recognised at fit time, dropped from the model
    columns and restored exactly, so no model has to learn a zero-width distribution.

    Arguments:
        column: reconstructed column.
        reference: the condition column it is compared with.
        mode: ``"log-ratio"``, ``"difference"`` or ``"angle"``.
        drop_constant: drop a constant residual (default); ``False`` keeps the column (for a
            later step that needs it, e.g. :class:`Dequantize` of an integer difference).
        offset: with ``"log-ratio"``, ``y = log((x + offset) / (ref + offset))`` (same unit as
            the columns), for quantities that may be 0 (a generator-level jet that is absent).
    """

    kind = "residual"
    drop_constant: bool = True  # class defaults: what model files written before these options meant
    offset: float = 0.0

    def __init__(self, column: str, reference: str, mode: str = "difference",
                 drop_constant: bool = True, offset: float = 0.0) -> None:
        if mode not in ("log-ratio", "difference", "angle"):
            raise FlashgenError(f"residual mode must be 'log-ratio', 'difference' or 'angle', got '{mode}'")
        self.column, self.reference, self.mode = column, reference, mode
        self.drop_constant = drop_constant
        self.offset = float(offset)
        self.constant: float | None = None

    def _residual(self, cols: Columns) -> Tensor:
        x, ref = cols[self.column], cols[self.reference]
        if self.mode == "log-ratio":
            return torch.log((x + self.offset) / (ref + self.offset))
        return wrap_angle(x - ref) if self.mode == "angle" else x - ref

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column, self.reference], "residual")
        r = self._residual(cols)
        if not bool(torch.isfinite(r).all()):
            raise FlashgenError(f"residual of '{self.column}' w.r.t. '{self.reference}' is not "
                                "finite (zero or negative values in a log-ratio?)")
        spread = float(r.max() - r.min())
        constant = spread <= 1e-9 * max(1.0, float(r.abs().max()))
        self.constant = float(r.mean()) if constant and self.drop_constant else None

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        out = dict(cols)
        if self.constant is not None:
            del out[self.column]
        else:
            out[self.column] = self._residual(cols)
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        ref = cols[self.reference]
        r = torch.full_like(ref, self.constant) if self.constant is not None else cols[self.column]
        if self.mode == "log-ratio":
            x = (ref + self.offset) * torch.exp(r) - self.offset
        else:
            x = wrap_angle(ref + r) if self.mode == "angle" else ref + r
        return {**cols, self.column: x}


def wrap_angle(angle: Tensor) -> Tensor:
    """Angles wrapped to [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


# ---------------------------------------------------------------------------------------------
# Steps of the automatic per-column plan (:mod:`flashgen.transforms.auto`); any preset may use
# them too.

__all__ += ["Angle", "BoundedIntegers", "Clip", "Constant", "DiscreteValues", "Peak", "PointMass"]

DEQUANTIZE_EDGE = 1e-6
""":class:`BoundedIntegers` of a model file written before ``margin`` existed drew its noise in
``[DEQUANTIZE_EDGE, 1 - DEQUANTIZE_EDGE)``: no value lands on an integer, so the floor of the
round trip never rounds down by an ulp."""
MAX_CALIBRATED_CELLS = 1000
""":class:`BoundedIntegers` records the training fractions (and can be calibrated) for at most
this many integers."""
CELL_MARGIN = 0.25
""":class:`BoundedIntegers` draws its noise in ``[CELL_MARGIN, 1 - CELL_MARGIN)``: each integer
fills the middle half of its unit cell, with gaps between the cells (see the class)."""


class Constant(Transform):
    """A column with one value in every training event: dropped from the model columns and
    restored exactly (a network never has to learn a zero-width distribution).

    Arguments:
        column: column name.
    """

    kind = "constant"

    def __init__(self, column: str) -> None:
        self.column = column
        self.value: float | None = None

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "constant column")
        x = cols[self.column]
        if x.numel() == 0 or not bool((x == x[0]).all()):
            raise FlashgenError(f"column '{self.column}' is not constant; do not drop it")
        self.value = float(x[0])

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return {k: v for k, v in cols.items() if k != self.column}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        if not cols:
            raise FlashgenError(f"cannot restore the constant column '{self.column}': no other column "
                                "gives the number of events")
        like = next(iter(cols.values()))
        return {**cols, self.column: torch.full(like.shape, float(self.value), dtype=like.dtype,  # type: ignore[arg-type]
                                                device=like.device)}


class Clip(Transform):
    """Keep a column within ``[low, high]`` (its training range): the forward map clamps
    held-out or new events beyond it (so a following :class:`Logit` or :class:`Log` fitted on
    the training events never sees a value it cannot map), the exact inverse clamps generated ones.

    Arguments:
        column: column name.
        low, high: the closed interval (same unit as the column); ``None`` leaves a side open.
    """

    kind = "clip"

    def __init__(self, column: str, low: float | None = None, high: float | None = None) -> None:
        if low is not None and high is not None and not low <= high:
            raise FlashgenError(f"clip needs low <= high, got {low} > {high}")
        self.column = column
        self.low = None if low is None else float(low)
        self.high = None if high is None else float(high)

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "clip")

    def _clamp(self, cols: Columns) -> Columns:
        return {**cols, self.column: cols[self.column].clamp(self.low, self.high)}

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return self._clamp(cols)

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        return self._clamp(cols) if exact else cols


class BoundedIntegers(Transform):
    """Integers in ``[low, high]`` -> an unbounded continuous coordinate, and back exactly.

    ``y = logit((x - low + u) / (high - low + 1))`` with ``u ~ U[δ, 1 - δ)``
    (δ = ``margin``): dequantisation as in :class:`Dequantize`, then a logit on the interval the
    dequantised values fill, so a smooth model has no hard edge to learn and every generated
    value is an integer in ``[low, high]`` (``floor`` of the inverse, clamped). For a 0/1 flag,
    a charge, a multiplicity. Values beyond ``[low, high]`` (held-out events) are clamped to it.

    With ``δ`` = :data:`CELL_MARGIN` each integer fills the middle half of its cell and the
    density is zero between cells: a flow then places the boundary between two integers in an
    empty gap, where touching cells (``δ → 0``) ask it for a step in density at the boundary,
    which it smooths, moving probability from the larger cell to the smaller one. Measured on
    the mixed toy (20,000 rows, flow with no preset, three seeds): the fraction of a point mass
    (an indicator learnt as 0/1) off by 0.016 / 0.014 / 0.008 with touching cells, 0.003 /
    0.006 / 0.002 with gaps; Z→μμ without a preset (seed 1): classifier AUC 0.597 -> 0.567.
    Between snapshots of one training the fraction still wanders (0.002 to 0.034 off on the mixed
    toy), so after training the cells' boundaries are placed on the model's own samples
    (:meth:`calibrate`): every integer then has its training fraction.

    Arguments:
        column: an integer-valued column.
        low, high: the smallest and largest integer (e.g. the training range).
        margin: ``δ``, in ``[0, 0.5)``.
    """

    kind = "bounded_integers"
    margin = DEQUANTIZE_EDGE  # a state stored before the margin existed
    fractions: list[float] | None = None
    """Fraction of the training events at each integer ``low .. high`` (:meth:`fit`)."""
    edges: list[float] | None = None
    """Boundaries between the integers' cells in ``sigmoid(y)`` (:meth:`calibrate`); ``None``:
    the equal cells ``k / (high - low + 1)``."""

    def __init__(self, column: str, low: float, high: float, margin: float = CELL_MARGIN) -> None:
        if low != math.floor(low) or high != math.floor(high) or not low <= high:
            raise FlashgenError(f"bounded integers need integers low <= high, got {low}, {high}")
        if not 0 <= margin < 0.5:
            raise FlashgenError(f"bounded integers need a margin in [0, 0.5), got {margin}")
        self.column, self.low, self.high = column, float(low), float(high)
        self.margin = max(float(margin), DEQUANTIZE_EDGE)

    @property
    def width(self) -> float:
        return self.high - self.low + 1

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "bounded integers")
        x = cols[self.column]
        if not torch.equal(x, torch.floor(x)):
            raise FlashgenError(f"column '{self.column}' is not integer-valued; do not dequantise it")
        if bool(((x < self.low) | (x > self.high)).any()):
            raise FlashgenError(f"column '{self.column}' has values outside [{self.low:g}, {self.high:g}]")
        self.count(x)

    def count(self, x: Tensor) -> None:
        """Record the fraction of the events ``x`` (integers in ``[low, high]``) at each integer,
        which :meth:`calibrate` matches (at most :data:`MAX_CALIBRATED_CELLS` integers)."""
        if self.width <= MAX_CALIBRATED_CELLS and len(x):
            counts = torch.bincount((x.clamp(self.low, self.high) - self.low).long(), minlength=int(self.width))
            self.fractions = (counts.double() / len(x)).tolist()

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        x = cols[self.column].clamp(self.low, self.high)
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        t = (x - self.low + self.margin + (1 - 2 * self.margin) * u) / self.width
        return {**cols, self.column: torch.log(t) - torch.log1p(-t)}

    def calibrate(self, y: Tensor) -> None:
        """Place the boundaries between the integers' cells so that a model's values ``y`` (of
        this column, model side, before :meth:`inverse`; e.g. 100,000 generated events) fall
        into each cell with the fraction of the training events (:meth:`fit`).

        The map stays monotonic, so an event moves at most to a neighbouring integer, and only
        near a boundary; the generated fraction of every integer then equals the training one
        to the sampling precision of ``y`` (a smooth model otherwise misses it by up to 0.02:
        measured on a point mass's 0/1 indicator, the class docstring)."""
        if self.fractions is None or len(y) == 0:
            return
        u = torch.sigmoid(y.double()).sort().values
        cum = torch.tensor(self.fractions, dtype=torch.float64).cumsum(0)[:-1]
        idx = (cum * len(u)).round().long().clamp(0, len(u) - 1)
        below = u[(idx - 1).clamp_min(0)]
        self.edges = ((below + u[idx]) / 2).tolist()

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        u = torch.sigmoid(cols[self.column])
        if exact and self.edges is not None:
            edges = torch.tensor(self.edges, dtype=u.dtype, device=u.device)
            return {**cols, self.column: self.low + torch.searchsorted(edges, u.contiguous(), right=True).to(u.dtype)}
        x = self.low + self.width * u
        if exact:
            x = torch.floor(x).clamp(self.low, self.high)
        return {**cols, self.column: x}


class DiscreteValues(Transform):
    """A column with a few distinct values (a working point 0.5 / 0.8 / 0.9, a charge ±1 stored
    as float) -> the index of its value, ``0 .. len(values) - 1`` (follow it with
    :class:`BoundedIntegers`); the exact inverse returns the value of the rounded index.

    Arguments:
        column: column name.
        values: every value the column takes, any order (same unit as the column); a held-out
            value not among them is mapped to the nearest one.
    """

    kind = "discrete_values"

    def __init__(self, column: str, values: list[float]) -> None:
        self.column = column
        self.values = sorted({float(v) for v in values})
        if not self.values:
            raise FlashgenError("discrete values need at least one value")

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "discrete values")
        x = cols[self.column]
        known = torch.tensor(self.values, dtype=x.dtype, device=x.device)
        if not bool(torch.isin(x, known).all()):
            raise FlashgenError(f"column '{self.column}' takes values other than {self.values}")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        x = cols[self.column]
        known = torch.tensor(self.values, dtype=x.dtype, device=x.device)
        above = torch.searchsorted(known, x).clamp(max=len(self.values) - 1)
        below = (above - 1).clamp(min=0)
        nearest = torch.where((x - known[below]).abs() <= (known[above] - x).abs(), below, above)
        return {**cols, self.column: nearest.to(x.dtype)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        i = cols[self.column].clamp(0, len(self.values) - 1)
        known = torch.tensor(self.values, dtype=i.dtype, device=i.device)
        if exact:
            return {**cols, self.column: known[torch.round(i).long()]}
        lo = torch.floor(i).long().clamp(max=len(self.values) - 1)
        hi = (lo + 1).clamp(max=len(self.values) - 1)
        return {**cols, self.column: known[lo] + (i - lo.to(i.dtype)) * (known[hi] - known[lo])}


class PointMass(Transform):
    """A value that holds a finite fraction of the events (an isolation of exactly 0, a default
    -999) modelled as such and restored exactly.

    Forward adds the 0/1 indicator ``name`` (1 where the column equals ``value``; follow it with
    :class:`BoundedIntegers` over ``[0, 1]``) and fills the column of those events with values
    drawn from the other events of the batch, so that the column holds only its continuous part
    (a following :class:`Log` or :class:`Logit` sees no spike). The exact inverse sets the column
    to ``value`` where the indicator is 1 and drops the indicator: the fraction of events at
    ``value`` is the model's fraction of indicators, and every other event keeps the continuous
    part. Unlike :class:`ZeroPadding`, the spike needs no empty gap beside it.

    Arguments:
        column: column name.
        value: the value of the spike (same unit as the column).
        name: the indicator column added on the model side (default ``<column>_at_<value>``).
    """

    kind = "point_mass"

    def __init__(self, column: str, value: float, name: str | None = None) -> None:
        self.column, self.value = column, float(value)
        self.name = str(name) if name is not None else f"{column}_at_{self.value:g}"

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "point mass")
        if self.name in cols:
            raise FlashgenError(f"point-mass indicator column '{self.name}' already exists; give another name")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        x = cols[self.column]
        spike = x == self.value
        rest = x[~spike]
        if rest.numel() and bool(spike.any()):
            pick = torch.randint(rest.numel(), x.shape, generator=generator, device=x.device)
            x = torch.where(spike, rest[pick], x)
        return {**cols, self.column: x, self.name: spike.to(x.dtype)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        out = {k: v for k, v in cols.items() if k != self.name}
        if exact:
            x = cols[self.column]
            out[self.column] = torch.where(cols[self.name] >= 0.5, torch.full_like(x, self.value), x)
        return out


class Angle(Transform):
    """An azimuth ``phi`` -> a point of an annulus, ``(r cos phi, r sin phi)``, with a random
    radius ``r = exp(0.25 z)``, ``z ~ N(0, 1)``; the inverse is ``atan2``.

    A periodic column has no edges in this representation (a smooth model of ``phi`` itself
    leaks beyond ±π and cannot know that the two ends meet); the random radius makes the pair a
    full two-dimensional density (a circle alone would be degenerate), and it is discarded by
    the inverse, which always lies in ``[low, low + 2π]``. Forward adds the columns
    ``<column>_x`` and ``<column>_y`` in place of the column.

    Arguments:
        column: column name, an angle in radians.
        low: start of the angle's period: ``-π`` (default) for ``[-π, π]``, 0 for ``[0, 2π)``.
    """

    kind = "angle"

    def __init__(self, column: str, low: float = -math.pi) -> None:
        self.column, self.low = column, float(low)

    @property
    def outputs(self) -> tuple[str, str]:
        return f"{self.column}_x", f"{self.column}_y"

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "angle")
        taken = [c for c in self.outputs if c in cols]
        if taken:
            raise FlashgenError(f"angle step for '{self.column}' needs column name(s) {', '.join(taken)}, "
                                "which the table already uses")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        phi = cols[self.column]
        r = torch.exp(0.25 * torch.randn(phi.shape, generator=generator, dtype=phi.dtype, device=phi.device))
        out = {k: v for k, v in cols.items() if k != self.column}
        cx, cy = self.outputs
        return {**out, cx: r * torch.cos(phi), cy: r * torch.sin(phi)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        cx, cy = self.outputs
        phi = torch.atan2(cols[cy], cols[cx])  # in [-π, π]
        if self.low != -math.pi:
            phi = self.low + torch.remainder(phi - self.low, 2 * math.pi)
        out = {k: v for k, v in cols.items() if k not in (cx, cy)}
        return {**out, self.column: phi}


class Peak(Transform):
    """``y = asinh((x - center) / scale)``: a narrow peak with long tails (a resonance's mass,
    a response) made roughly Gaussian: linear within ``scale`` of ``center``, logarithmic
    beyond. After the standardisation (which divides by a width that the tails dominate) the
    core would otherwise be a small fraction of a unit wide, finer than a flow's spline bins
    resolve.

    Arguments:
        column: column name.
        center: where the peak is (the column's unit at this step); ``None``: the median of
            the training values at this step.
        scale: the core's width, > 0; ``None``: their interquartile range / 1.349 (a
            Gaussian's σ).
    """

    kind = "peak"

    def __init__(self, column: str, center: float | None = None, scale: float | None = None) -> None:
        if scale is not None and not scale > 0:
            raise FlashgenError(f"peak scale must be positive, got {scale}")
        self.column = column
        self.center = None if center is None else float(center)
        self.scale = None if scale is None else float(scale)

    def fit(self, cols: Columns) -> None:
        need(cols, [self.column], "peak transform")
        if self.center is not None and self.scale is not None:
            return
        x = cols[self.column].detach().double().cpu().numpy()
        x = x[np.isfinite(x)]
        if len(x) < 2:
            raise FlashgenError(f"peak transform of '{self.column}' needs at least 2 finite values to fit")
        median, width = core(x)
        if self.scale is None and not width > 0:
            raise FlashgenError(f"peak transform of '{self.column}': half of its values are one number, "
                                "so the core has no width; give the scale")
        self.center = median if self.center is None else self.center
        self.scale = width if self.scale is None else self.scale

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return {**cols, self.column: torch.asinh((cols[self.column] - self.center) / self.scale)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        return {**cols, self.column: self.center + self.scale * torch.sinh(cols[self.column])}
