"""Invertible preprocessing fitted on the training table and saved inside the model file.

A :class:`Pipeline` maps named physical columns (GeV, rad, counts) to the standardised matrix a
network sees, shape ``(n_events, n_model_columns)``, and back. It is a sequence of
:class:`Transform` steps that act on a dict ``column name -> tensor of shape (n_events,)``; a step
may read condition columns (e.g. a residual with respect to the true value), drop columns it can
rebuild (an on-shell energy) or add noise that its inverse removes exactly (dequantisation).
Everything works on torch tensors so that the inverse is differentiable where it can be
(``exact=False``), which the GAN's physics regression terms use.

Every step's constructor arguments and fitted numbers round-trip through :meth:`Transform.state`
(plain Python values), so a model file needs no pickled code.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from .errors import FlashgenError

__all__ = [
    "Asinh",
    "AzimuthalRotation",
    "Dequantize",
    "DimuonMass",
    "Log",
    "Logit",
    "OnShellEnergy",
    "Pipeline",
    "Residual",
    "SortDescending",
    "Transform",
    "ZeroPadding",
]

Columns = dict[str, Tensor]
MUON_MASS = 0.1056583755  # GeV, PDG 2024


def _need(cols: Columns, names: list[str], what: str) -> None:
    missing = [n for n in names if n not in cols]
    if missing:
        raise FlashgenError(f"{what} needs column(s) {', '.join(missing)}, which the table lacks")


class Transform(ABC):
    """One invertible preprocessing step on a dict of columns.

    Subclasses set ``kind`` (the name stored in model files) and implement :meth:`forward` and
    :meth:`inverse`; :meth:`fit` sees the columns as they arrive at this step.
    """

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Transform]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Transform.registry[cls.kind] = cls

    def fit(self, cols: Columns) -> None:
        """Learn this step's numbers from the columns (default: nothing to learn)."""

    @abstractmethod
    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        """Physical -> model side. ``generator`` seeds any noise the step adds."""

    @abstractmethod
    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        """Model -> physical side. With ``exact=False`` skip non-differentiable steps (floor,
        thresholds, sorting) so gradients flow; with ``exact=True`` return physical values."""

    def state(self) -> dict[str, Any]:
        """Constructor arguments and fitted numbers as plain Python values."""
        return {"kind": self.kind, **self.__dict__}

    @staticmethod
    def from_state(state: dict[str, Any]) -> Transform:
        """Rebuild a step from :meth:`state`."""
        state = dict(state)
        kind = state.pop("kind")
        if kind not in Transform.registry:
            raise FlashgenError(f"unknown preprocessing step '{kind}' in model file")
        obj = Transform.registry[kind].__new__(Transform.registry[kind])
        obj.__dict__.update(state)
        return obj


class OnShellEnergy(Transform):
    """Drop an energy that the momentum determines: ``E = sqrt(|p|^2 + m^2)``.

    The parametric detector smears a muon's momentum and keeps it on its mass shell, so ``E`` is
    not a degree of freedom; rebuilding it guarantees ``E >= |p|`` for generated events.

    Arguments:
        px, py, pz, e: column names (GeV).
        mass: particle mass in GeV (default: the muon's).
        tolerance: largest relative deviation from the mass shell accepted at fit time.
    """

    kind = "on_shell_energy"

    def __init__(self, px: str, py: str, pz: str, e: str, mass: float = MUON_MASS,
                 tolerance: float = 1e-6) -> None:
        self.px, self.py, self.pz, self.e = px, py, pz, e
        self.mass, self.tolerance = mass, tolerance

    def _energy(self, cols: Columns) -> Tensor:
        p2 = cols[self.px] ** 2 + cols[self.py] ** 2 + cols[self.pz] ** 2
        return torch.sqrt(p2 + self.mass**2)

    def fit(self, cols: Columns) -> None:
        _need(cols, [self.px, self.py, self.pz, self.e], "on-shell energy")
        dev = ((cols[self.e] - self._energy(cols)).abs() / cols[self.e].abs().clamp_min(1e-12)).max()
        if float(dev) > self.tolerance:
            raise FlashgenError(
                f"'{self.e}' is not on the mass shell m = {self.mass} GeV (relative deviation "
                f"{float(dev):.2g}); train without this preset step or fix the input")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return {k: v for k, v in cols.items() if k != self.e}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        return {**cols, self.e: self._energy(cols)}


class DimuonMass(Transform):
    """Replace the leading muon's pz by the dimuon mass m(μμ) and the sign of Δy = y0 − y1.

    For on-shell muons ``m(μμ)^2 = 2 m^2 + 2 (mT0 mT1 cosh Δy − pT0·pT1)``, so given both
    transverse momenta and μ1's rapidity, ``(m(μμ), sign Δy)`` determines μ0's pz exactly:
    ``cosh Δy = (m(μμ)^2/2 − m^2 + pT0·pT1) / (mT0 mT1)``, ``pz0 = mT0 sinh(y1 + Δy)``. A model then
    learns the Z line shape as a coordinate of its own instead of as a narrow ridge in the
    muon momenta. ``sign Δy`` is stored as 0/1 (dequantise it). A generated mass below the
    kinematic minimum of its event (``cosh Δy < 1``) is read as ``Δy = 0``.

    Arguments:
        mu0, mu1: ``[px, py, pz]`` column names of the two muons (GeV); ``mu0``'s pz is replaced.
        mass: the muon mass (GeV).
        mll, sign: names of the new columns.
    """

    kind = "dimuon_mass"

    def __init__(self, mu0: list[str], mu1: list[str], mass: float = MUON_MASS,
                 mll: str = "mll", sign: str = "dy_sign") -> None:
        self.mu0, self.mu1, self.mass = list(mu0), list(mu1), float(mass)
        self.mll, self.sign = mll, sign

    def fit(self, cols: Columns) -> None:
        _need(cols, self.mu0 + self.mu1, "dimuon mass")

    def _transverse(self, cols: Columns) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        (x0, y0, _), (x1, y1, z1) = self.mu0, self.mu1
        m2 = self.mass**2
        mt0 = torch.sqrt(m2 + cols[x0] ** 2 + cols[y0] ** 2)
        mt1 = torch.sqrt(m2 + cols[x1] ** 2 + cols[y1] ** 2)
        dot = cols[x0] * cols[x1] + cols[y0] * cols[y1]
        return mt0, mt1, dot, torch.asinh(cols[z1] / mt1)

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        mt0, mt1, dot, rap1 = self._transverse(cols)
        rap0 = torch.asinh(cols[self.mu0[2]] / mt0)
        dy = rap0 - rap1
        mll2 = 2 * self.mass**2 + 2 * (mt0 * mt1 * torch.cosh(dy) - dot)
        out = {k: v for k, v in cols.items() if k != self.mu0[2]}
        out[self.mll] = torch.sqrt(mll2.clamp_min(0))
        out[self.sign] = (dy > 0).to(dy.dtype)
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        mt0, mt1, dot, rap1 = self._transverse(cols)
        cosh_dy = (cols[self.mll] ** 2 / 2 - self.mass**2 + dot) / (mt0 * mt1)
        dy = torch.acosh(cosh_dy.clamp_min(1.0 + 1e-12))
        # 1 means Δy > 0; dequantised values of 1 lie in [1, 2), of 0 in [0, 1)
        dy = torch.where(cols[self.sign] >= 1.0, dy, -dy)
        out = {k: v for k, v in cols.items() if k not in (self.mll, self.sign)}
        out[self.mu0[2]] = mt0 * torch.sinh(rap1 + dy)
        return out


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
        _need(cols, [self.column], "logit transform")
        x = cols[self.column]
        if not bool(((x > self.low) & (x < self.high)).all()):
            raise FlashgenError(f"column '{self.column}' has values outside ({self.low}, {self.high})")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        u = (cols[self.column] - self.low) / (self.high - self.low)
        return {**cols, self.column: torch.log(u) - torch.log1p(-u)}

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        return {**cols, self.column: self.low + (self.high - self.low) * torch.sigmoid(cols[self.column])}


class AzimuthalRotation(Transform):
    """Rotate all transverse vectors so that a reference vector points along +x; drop its y.

    Forward removes the (physically meaningless) overall azimuth, as in the seed analysis where
    μ1 gets ``py = 0``; the reference's x becomes its pT (>= 0). The inverse draws a fresh
    uniform azimuth per event, so generated events are isotropic like the reference.

    Arguments:
        vectors: ``[x, y]`` column-name pairs of every transverse vector (GeV), including the
            reference.
        reference: the ``[x, y]`` pair that defines the frame.
    """

    kind = "azimuthal_rotation"

    def __init__(self, vectors: list[list[str]], reference: list[str]) -> None:
        self.vectors = [list(v) for v in vectors]
        self.reference = list(reference)
        if self.reference not in self.vectors:
            self.vectors.append(self.reference)

    @staticmethod
    def _rotate(cols: Columns, vectors: list[list[str]], cos: Tensor, sin: Tensor) -> Columns:
        out = dict(cols)
        for x, y in vectors:
            out[x] = cos * cols[x] - sin * cols[y]
            out[y] = sin * cols[x] + cos * cols[y]
        return out

    def fit(self, cols: Columns) -> None:
        _need(cols, [c for v in self.vectors for c in v], "azimuthal rotation")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        rx, ry = self.reference
        phi = torch.atan2(cols[ry], cols[rx])
        out = self._rotate(cols, self.vectors, torch.cos(phi), -torch.sin(phi))
        out[rx] = torch.hypot(cols[rx], cols[ry])  # exactly the pT, no rounding below zero
        del out[ry]
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        rx, ry = self.reference
        first = cols[rx]
        cols = {**cols, ry: torch.zeros_like(first)}
        phi = 2 * math.pi * torch.rand(first.shape, generator=generator, dtype=first.dtype,
                                       device=first.device)
        return self._rotate(cols, self.vectors, torch.cos(phi), torch.sin(phi))


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
        _need(cols, [self.column], "log transform")
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
        _need(cols, [self.column], "dequantisation")
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
        _need(cols, self.columns, "zero padding")
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
        _need(cols, [self.column], "asinh transform")

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

    def __init__(self, columns: list[str]) -> None:
        self.columns = list(columns)

    def fit(self, cols: Columns) -> None:
        _need(cols, self.columns, "ordering")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        return cols

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        if not exact:
            return cols
        stacked = torch.stack([cols[c] for c in self.columns], dim=1)
        ordered = torch.sort(stacked, dim=1, descending=True).values
        return {**cols, **{c: ordered[:, j] for j, c in enumerate(self.columns)}}


class Residual(Transform):
    """Model a reconstructed quantity relative to its true value (a condition column).

    ``kind="log-ratio"``: ``y = log(x / ref)`` (a relative response, e.g. pT'/pT);
    ``kind="difference"``: ``y = x - ref``. A residual that is constant in the training data
    (e.g. a detector that does not change eta) is recognised at fit time, dropped from the model
    columns and restored exactly, so no model has to learn a zero-width distribution.

    Arguments:
        column: reconstructed column.
        reference: the condition column it is compared with.
        mode: ``"log-ratio"`` or ``"difference"``.
    """

    kind = "residual"

    def __init__(self, column: str, reference: str, mode: str = "difference") -> None:
        if mode not in ("log-ratio", "difference"):
            raise FlashgenError(f"residual mode must be 'log-ratio' or 'difference', got '{mode}'")
        self.column, self.reference, self.mode = column, reference, mode
        self.constant: float | None = None

    def _residual(self, cols: Columns) -> Tensor:
        x, ref = cols[self.column], cols[self.reference]
        return torch.log(x / ref) if self.mode == "log-ratio" else x - ref

    def fit(self, cols: Columns) -> None:
        _need(cols, [self.column, self.reference], "residual")
        r = self._residual(cols)
        if not bool(torch.isfinite(r).all()):
            raise FlashgenError(f"residual of '{self.column}' w.r.t. '{self.reference}' is not "
                                "finite (zero or negative values in a log-ratio?)")
        spread = float(r.max() - r.min())
        self.constant = float(r.mean()) if spread <= 1e-9 * max(1.0, float(r.abs().max())) else None

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
        x = ref * torch.exp(r) if self.mode == "log-ratio" else ref + r
        return {**cols, self.column: x}


class Pipeline:
    """Physical columns <-> standardised model matrix, through a sequence of steps.

    Arguments:
        columns: physical column names this pipeline maps (features, or conditions).
        steps: preprocessing steps applied in order (their inverses in reverse order).
        conditions: names of condition columns that steps may read (never output).

    After :meth:`fit`, ``model_columns`` names the columns of the model matrix.
    """

    def __init__(self, columns: list[str], steps: list[Transform] | None = None,
                 conditions: list[str] | None = None) -> None:
        self.columns = list(columns)
        self.steps = list(steps or [])
        self.conditions = list(conditions or [])
        self.model_columns: list[str] = []
        self.mean = torch.zeros(0)
        self.std = torch.ones(0)

    def _through(self, cols: Columns, generator: torch.Generator | None, fit: bool) -> Columns:
        for step in self.steps:
            if fit:
                step.fit(cols)
            cols = step.forward(cols, generator)
        return {k: v for k, v in cols.items() if k not in self.conditions}

    def fit(self, cols: Columns, generator: torch.Generator | None = None) -> Tensor:
        """Fit every step and the standardisation; return the model matrix of ``cols``.

        Arguments:
            cols: physical columns (``self.columns`` and ``self.conditions``), float64 tensors of
                shape ``(n_events,)``.
        """
        _need(cols, self.columns + self.conditions, "preprocessing")
        out = self._through({k: cols[k] for k in self.columns + self.conditions}, generator, fit=True)
        self.model_columns = list(out)
        if not self.model_columns:
            return torch.zeros((len(next(iter(cols.values()))), 0))
        z = torch.stack([out[c] for c in self.model_columns], dim=1)
        self.mean = z.mean(dim=0)
        std = z.std(dim=0)
        self.std = torch.where(std > 0, std, torch.ones_like(std))
        return ((z - self.mean) / self.std).float()

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Tensor:
        """Physical columns -> model matrix of shape ``(n_events, len(model_columns))``, float32."""
        _need(cols, self.columns + self.conditions, "preprocessing")
        out = self._through({k: cols[k].double() for k in self.columns + self.conditions},
                            generator, fit=False)
        if not self.model_columns:
            return torch.zeros((len(next(iter(cols.values()))), 0))
        z = torch.stack([out[c] for c in self.model_columns], dim=1)
        return ((z - self.mean.to(z)) / self.std.to(z)).float()

    def inverse(self, z: Tensor, conditions: Columns | None = None,
                generator: torch.Generator | None = None, exact: bool = True,
                keep: Sequence[str] = ()) -> Columns:
        """Model matrix ``(n_events, len(model_columns))`` -> physical columns (``self.columns``).

        Arguments:
            z: model-side values.
            conditions: physical condition columns, when steps need them.
            generator: seeds the randomness of inverses (e.g. the azimuth of a rotation).
            exact: ``False`` keeps the map differentiable (skips floors, thresholds, sorting).
            keep: intermediate columns to return too, as they were last seen on the way back
                (e.g. ``"mll"``, a model coordinate that the physical columns only imply).
        """
        x = z * self.std.to(z) + self.mean.to(z)
        cols: Columns = {c: x[:, j] for j, c in enumerate(self.model_columns)}
        if self.conditions:
            if conditions is None:
                raise FlashgenError("this model needs condition columns to generate: "
                                    + ", ".join(self.conditions))
            cols.update({c: conditions[c].to(x) for c in self.conditions})
        kept = {k: cols[k] for k in keep if k in cols}
        for step in reversed(self.steps):
            cols = step.inverse(cols, generator, exact=exact)
            kept.update({k: cols[k] for k in keep if k in cols})
        return {**kept, **{c: cols[c] for c in self.columns}}

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted pipeline (plain values and tensors)."""
        return {"columns": self.columns, "conditions": self.conditions,
                "steps": [s.state() for s in self.steps], "model_columns": self.model_columns,
                "mean": self.mean.double(), "std": self.std.double()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Pipeline:
        """Inverse of :meth:`state`."""
        p = cls(state["columns"], [Transform.from_state(s) for s in state["steps"]], state["conditions"])
        p.model_columns = list(state["model_columns"])
        p.mean, p.std = state["mean"].double(), state["std"].double()
        return p
