"""Kinematic steps for collider events: on-shell energies, the dimuon mass as a coordinate,
the azimuthal rotation of the analysis frame."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import FlashgenError
from .base import Columns, Transform, need

__all__ = ["AzimuthalRotation", "DimuonMass", "OnShellEnergy"]


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
