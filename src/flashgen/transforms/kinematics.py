"""Kinematic steps for collider events: on-shell energies, the dimuon mass as a coordinate,
the azimuthal rotation of the analysis frame, objects kept in their order."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import FlashgenError
from .pipeline import Columns, Transform, need
from .columns import SortDescending, wrap_angle

__all__ = ["AzimuthalRotation", "DimuonMass", "DimuonMassInAcceptance", "MatchedObjects", "OnShellEnergy",
           "PairMomentum", "SortObjects"]


class OnShellEnergy(Transform):
    """Drop an energy that the momentum determines: ``E = sqrt(|p|^2 + m^2)``.

    The parametric detector smears a muon's momentum and keeps it on its mass shell, so ``E`` is
    not a degree of freedom; rebuilding it guarantees ``E >= |p|`` for generated events.

    Arguments:
        px, py, pz, e: column names (GeV).
        mass: particle mass in GeV (the source's, e.g. the muon's).
        tolerance: largest relative deviation from the mass shell accepted at fit time.
    """

    kind = "on_shell_energy"

    def __init__(self, px: str, py: str, pz: str, e: str, mass: float,
                 tolerance: float = 1e-6) -> None:
        self.px, self.py, self.pz, self.e = px, py, pz, e
        self.mass, self.tolerance = mass, tolerance

    def _energy(self, cols: Columns) -> Tensor:
        p2 = cols[self.px] ** 2 + cols[self.py] ** 2 + cols[self.pz] ** 2
        return torch.sqrt(p2 + self.mass**2)

    def fit(self, cols: Columns) -> None:
        need(cols, [self.px, self.py, self.pz, self.e], "on-shell energy")
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

    def __init__(self, mu0: list[str], mu1: list[str], mass: float,
                 mll: str = "mll", sign: str = "dy_sign") -> None:
        self.mu0, self.mu1, self.mass = list(mu0), list(mu1), float(mass)
        self.mll, self.sign = mll, sign

    def fit(self, cols: Columns) -> None:
        need(cols, self.mu0 + self.mu1, "dimuon mass")

    def _masses(self, cols: Columns) -> tuple[Tensor, Tensor, Tensor]:
        """Both transverse masses and the product of the transverse momenta."""
        (x0, y0, _), (x1, y1, _) = self.mu0, self.mu1
        m2 = self.mass**2
        mt0 = torch.sqrt(m2 + cols[x0] ** 2 + cols[y0] ** 2)
        mt1 = torch.sqrt(m2 + cols[x1] ** 2 + cols[y1] ** 2)
        return mt0, mt1, cols[x0] * cols[x1] + cols[y0] * cols[y1]

    def _transverse(self, cols: Columns) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        mt0, mt1, dot = self._masses(cols)
        return mt0, mt1, dot, torch.asinh(cols[self.mu1[2]] / mt1)

    def _rapidity_gap(self, cols: Columns, mt0: Tensor, mt1: Tensor, dot: Tensor) -> Tensor:
        """Δy = y0 − y1 from m(μμ) and its sign column (a mass below the event's kinematic
        minimum is read as Δy = 0)."""
        cosh_dy = (cols[self.mll] ** 2 / 2 - self.mass**2 + dot) / (mt0 * mt1)
        dy = torch.acosh(cosh_dy.clamp_min(1.0 + 1e-12))
        # 1 means Δy > 0; dequantised values of 1 lie in [1, 2), of 0 in [0, 1)
        return torch.where(cols[self.sign] >= 1.0, dy, -dy)

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
        dy = self._rapidity_gap(cols, mt0, mt1, dot)
        out = {k: v for k, v in cols.items() if k not in (self.mll, self.sign)}
        out[self.mu0[2]] = mt0 * torch.sinh(rap1 + dy)
        return out


class DimuonMassInAcceptance(DimuonMass):
    """:class:`DimuonMass` with both muons' rapidities inside the acceptance ``|y| < y_max``
    by construction: μ0's and μ1's pz become ``(m(μμ), sign Δy, u)``.

    Given the transverse momenta, m(μμ) fixes ``|Δy|``; the mean rapidity ``Y = (y0 + y1) / 2``
    then has exactly the interval ``|Y| < L = y_max − |Δy| / 2`` in which both muons are
    accepted, and ``u = logit((Y + L) / (2 L))`` maps it to the real line. A generated
    ``(m(μμ), transverse momenta)`` with ``L <= 0`` has no accepted event (its rapidities are
    returned at ``Y = 0``, outside the acceptance, for the generator to redraw).

    Arguments:
        mu0, mu1: ``[px, py, pz]`` column names of the two muons (GeV); both pz are replaced.
        mass: the muon mass (GeV).
        y_max: the acceptance in rapidity (e.g. the detector's |eta| limit; |y| <= |eta|).
        mll, sign, mid: names of the new columns.
    """

    kind = "dimuon_mass_acceptance"

    def __init__(self, mu0: list[str], mu1: list[str], mass: float, y_max: float,
                 mll: str = "mll", sign: str = "dy_sign", mid: str = "y_mid") -> None:
        super().__init__(mu0, mu1, mass, mll, sign)
        self.y_max, self.mid = float(y_max), mid

    def _rapidities(self, cols: Columns) -> tuple[Tensor, Tensor]:
        mt0, mt1, _, rap1 = self._transverse(cols)
        return torch.asinh(cols[self.mu0[2]] / mt0), rap1

    def fit(self, cols: Columns) -> None:
        super().fit(cols)
        y0, y1 = self._rapidities(cols)
        worst = float(torch.maximum(y0.abs(), y1.abs()).max())
        if not worst < self.y_max:
            raise FlashgenError(f"a muon has rapidity |y| = {worst:.4g}, not inside the acceptance "
                                f"|y| < {self.y_max:g}; train without this step or fix the input")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        y0, y1 = self._rapidities(cols)
        out = super().forward(cols, generator)
        half = self.y_max - (y0 - y1).abs() / 2
        v = ((y0 + y1) / 2 + half) / (2 * half)
        out[self.mid] = torch.log(v) - torch.log1p(-v)
        del out[self.mu1[2]]
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        mt0, mt1, dot = self._masses(cols)
        dy = self._rapidity_gap(cols, mt0, mt1, dot)
        half = self.y_max - dy.abs() / 2
        mid = torch.where(half > 0, half * (2 * torch.sigmoid(cols[self.mid]) - 1), torch.zeros_like(half))
        out = {k: v for k, v in cols.items() if k not in (self.mll, self.sign, self.mid)}
        out[self.mu0[2]] = mt0 * torch.sinh(mid + dy / 2)
        out[self.mu1[2]] = mt1 * torch.sinh(mid - dy / 2)
        return out


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
        need(cols, [c for v in self.vectors for c in v], "azimuthal rotation")

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


class MatchedObjects(Transform):
    """Reorder reconstructed objects sorted by pT into the order of their generator-level match.

    A conditional (flash) model learns each reconstructed object given its true counterpart; the
    reconstruction, however, sorts objects by *reconstructed* pT, which swaps them when
    resolution reorders two close ones. Forward assigns the reconstructed objects to the true ones
    by the permutation of smallest summed ΔR² and writes each as ``(pT, eta, phi)`` under the
    name of its match (``<output>_pt`` ...); inverse rebuilds ``(px, py, pz)`` and sorts by pT
    again, which is exactly what the reconstruction did. Only two objects are supported (the
    muon pair), so the permutations are "as is" and "swapped".

    Arguments:
        reco: two ``[px, py, pz]`` column triples (GeV), sorted by decreasing pT.
        truth: the two true objects' ``[pt, eta, phi]`` condition columns (GeV, -, rad).
        output: names of the matched objects' columns, one prefix per true object.
    """

    kind = "matched_objects"

    def __init__(self, reco: list[list[str]], truth: list[list[str]], output: list[str]) -> None:
        if not len(reco) == len(truth) == len(output) == 2:
            raise FlashgenError("matched objects: exactly two reconstructed and two true objects")
        self.reco = [list(r) for r in reco]
        self.truth = [list(t) for t in truth]
        self.output = list(output)

    def fit(self, cols: Columns) -> None:
        need(cols, [c for r in self.reco for c in r] + [c for t in self.truth for c in t],
             "matched objects")

    def _polar(self, cols: Columns, k: int) -> tuple[Tensor, Tensor, Tensor]:
        px, py, pz = (cols[c] for c in self.reco[k])
        pt = torch.hypot(px, py)
        return pt, torch.asinh(pz / pt.clamp_min(1e-12)), torch.atan2(py, px)

    def _distance2(self, eta: Tensor, phi: Tensor, cols: Columns, k: int) -> Tensor:
        _, t_eta, t_phi = (cols[c] for c in self.truth[k])
        return (eta - t_eta) ** 2 + wrap_angle(phi - t_phi) ** 2

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        a, b = self._polar(cols, 0), self._polar(cols, 1)
        straight = self._distance2(a[1], a[2], cols, 0) + self._distance2(b[1], b[2], cols, 1)
        swapped = self._distance2(b[1], b[2], cols, 0) + self._distance2(a[1], a[2], cols, 1)
        swap = swapped < straight
        out = {k: v for k, v in cols.items() if k not in {c for r in self.reco for c in r}}
        for k, (mine, other) in enumerate(((a, b), (b, a))):
            for j, suffix in enumerate(("pt", "eta", "phi")):
                out[f"{self.output[k]}_{suffix}"] = torch.where(swap, other[j], mine[j])
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        names = {f"{o}_{s}" for o in self.output for s in ("pt", "eta", "phi")}
        out = {k: v for k, v in cols.items() if k not in names}
        vec = []
        for o in self.output:
            pt, eta, phi = cols[f"{o}_pt"], cols[f"{o}_eta"], cols[f"{o}_phi"]
            vec.append((pt, pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)))
        first = vec[0][0] >= vec[1][0]
        for k, (hi, lo) in enumerate(((0, 1), (1, 0))):
            for j, name in enumerate(self.reco[k]):
                out[name] = torch.where(first, vec[hi][j + 1], vec[lo][j + 1])
        return out


class SortObjects(SortDescending):
    """Keep objects in the order of the data: the exact inverse sorts whole objects (every
    column of each) by their first column, in descending order.

    Objects stored slot by slot (``jet1_pt``, ``jet2_pt``; ``Jet_0_pt, Jet_0_eta``, ``Jet_1_pt``,
    ...) are ordered by pT in the data; a model generates each slot on its own, so without this
    the leading slot is sometimes not the leading object.

    Arguments:
        slots: one list of column names per object, the same number each, the sort key first
            (e.g. ``[["Jet_0_pt", "Jet_0_eta"], ["Jet_1_pt", "Jet_1_eta"]]``).
        transverse: sort by ``hypot`` of the first two columns of each slot (``px, py``: the
            transverse momentum) instead of the first.
    """

    kind = "sort_objects"
    transverse = False

    def __init__(self, slots: list[list[str]], transverse: bool = False) -> None:
        if len({len(s) for s in slots}) != 1 or (transverse and len(slots[0]) < 2):
            raise FlashgenError("sorted objects need the same columns in every slot (px and py to sort by pT)")
        self.slots = [list(s) for s in slots]
        self.transverse = bool(transverse)
        super().__init__([c for s in self.slots for c in s])

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        if not exact:
            return cols
        key = torch.stack([torch.hypot(cols[s[0]], cols[s[1]]) if self.transverse else cols[s[0]]
                           for s in self.slots], dim=1)
        order = torch.argsort(key, dim=1, descending=True, stable=True)
        out = dict(cols)
        for j in range(len(self.slots[0])):
            values = torch.stack([cols[s[j]] for s in self.slots], dim=1).gather(1, order)
            out.update({s[j]: values[:, i] for i, s in enumerate(self.slots)})
        return out


class PairMomentum(Transform):
    """Replace one object's transverse momentum by the pair's: ``q = p_a + p_b`` in place of
    ``p_a`` (exact and linear; the inverse is ``p_a = q - p_b``).

    Two decay products of one resonance are nearly back to back in the transverse plane; their
    sum, the resonance's pT, is what recoils against the rest of the event. As ``p_a`` its
    distribution is a narrow difference of two large numbers that a model smooths (pT(μμ) of
    Z→μμ off by KS 0.07); as a coordinate of its own it is learnt directly.

    Arguments:
        first: ``[x, y]`` columns of the object that is replaced (GeV).
        second: ``[x, y]`` columns of the other object (GeV; kept).
        pair: ``[x, y]`` names of the pair's columns.
    """

    kind = "pair_momentum"

    def __init__(self, first: list[str], second: list[str], pair: list[str]) -> None:
        self.first, self.second, self.pair = list(first), list(second), list(pair)

    def fit(self, cols: Columns) -> None:
        need(cols, self.first + self.second, "pair momentum")

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        out = {k: v for k, v in cols.items() if k not in self.first}
        for a, b, q in zip(self.first, self.second, self.pair):
            out[q] = cols[a] + cols[b]
        return out

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        out = {k: v for k, v in cols.items() if k not in self.pair}
        for a, b, q in zip(self.first, self.second, self.pair):
            out[a] = cols[q] - cols[b]
        return out
