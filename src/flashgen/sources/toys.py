"""Toy densities with exact density, CDF and quantiles, for amplification and coverage studies.

Each density samples points of shape ``(n, dim)`` and provides :meth:`ToyDensity.pit`, the
probability integral transform: coordinates that are independent and uniform on ``[0, 1)`` under
the truth. Equal-probability bins ("quantiles") of the truth are equal-width bins of those
coordinates, which is how samples are scored against the truth (see :mod:`flashgen.stats`).

:class:`MixedTable` is a toy *table*: one column of every kind an analysis table holds
(heavy-tailed, bounded, periodic, integer, zero-inflated, 0/1, peaked, constant) with exact
marginal CDFs, supports and point masses, for the automatic preprocessing of tables without a
preset (:mod:`flashgen.transforms.auto`).

References:
    Butter, Diefenbacher, Kasieczka, Nachman, Plehn, "GANplifying event samples",
    SciPost Phys. 10 (2021) 139, arXiv:2008.06545 (camel back and ring).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from ..data import Column, EventTable
from ..errors import FlashgenError
from ..models.flow import FlowConfig
from ..models.gan import GANConfig
from ..models.wgan_gp import WGANGPConfig
from .registry import Preset, Profile, register_profile

__all__ = ["CamelBack", "MixedTable", "PROFILES", "Ring", "Shell", "TABLE_TOYS", "ToyDensity", "TOYS",
           "simulate_toy"]


class ToyDensity(ABC):
    """A density on R^dim with exact pdf and probability integral transform."""

    dim: int
    columns: tuple[str, ...]

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points, shape ``(n, dim)``."""

    @abstractmethod
    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x`` of shape ``(n, dim)`` (or ``(n,)`` in 1D); returns ``(n,)``."""

    @abstractmethod
    def pit(self, x: np.ndarray) -> np.ndarray:
        """Coordinates of shape ``(n, m)``, independent and uniform on [0, 1) under the truth."""

    def _points(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x.reshape(-1, 1) if self.dim == 1 and x.ndim == 1 else x


@dataclass(frozen=True)
class CamelBack(ToyDensity):
    """Equal mixture of two Gaussians: ``0.5 N(-mu, sigma) + 0.5 N(+mu, sigma)``.

    Arguments:
        mu: distance of each mode from zero (default 4).
        sigma: width of each mode (default 1).
    """

    mu: float = 4.0
    sigma: float = 1.0
    dim = 1
    columns = ("x",)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        return (sign * self.mu + self.sigma * rng.standard_normal(n)).reshape(n, 1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        x = self._points(x)[:, 0]
        return 0.5 * (stats.norm.pdf(x, -self.mu, self.sigma) + stats.norm.pdf(x, self.mu, self.sigma))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Exact CDF at ``x`` of shape ``(n,)``."""
        x = np.asarray(x, dtype=np.float64)
        return 0.5 * (special.ndtr((x + self.mu) / self.sigma) + special.ndtr((x - self.mu) / self.sigma))

    def ppf(self, q: np.ndarray) -> np.ndarray:
        """Inverse CDF (quantile function) by bisection, exact to ~1e-12."""
        q = np.asarray(q, dtype=np.float64)
        lo = np.full(q.shape, -self.mu - 40 * self.sigma)
        hi = np.full(q.shape, self.mu + 40 * self.sigma)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < q
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def pit(self, x: np.ndarray) -> np.ndarray:
        return self.cdf(self._points(x)[:, 0]).reshape(-1, 1)


MAX_WIDTH = 1000.0
"""Largest shell width, in units of its radius (wider ones overflow the truncated normal)."""


@dataclass(frozen=True)
class Shell(ToyDensity):
    """Spherical shell in ``dim`` dimensions: uniform direction, radius ``N(radius, width)``.

    The radius distribution is truncated at zero so that the density is exact (the truncated
    mass is ``Phi(-radius/width)``, 1e-23 for the defaults).

    Arguments:
        dim: number of dimensions (>= 2).
        radius: mean radius (default 1).
        width: Gaussian smearing of the radius (default 0.1).
    """

    dim: int = 2
    radius: float = 1.0
    width: float = 0.1

    def __post_init__(self) -> None:
        if self.dim < 2:
            raise FlashgenError(f"a shell needs at least 2 dimensions, got {self.dim}")
        if not (math.isfinite(self.radius) and self.radius > 0):
            raise FlashgenError(f"the shell's radius must be a positive number, got {self.radius!r}")
        if not (math.isfinite(self.width) and 0 < self.width <= MAX_WIDTH * self.radius):
            raise FlashgenError(f"the shell's width must be positive and at most {MAX_WIDTH:g} times its "
                                f"radius (beyond, sampling overflows), got {self.width!r}")

    @property
    def columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("x", "y") if self.dim == 2 else tuple(f"x{i}" for i in range(self.dim))

    @property
    def _radial(self) -> Any:
        a = -self.radius / self.width
        return stats.truncnorm(a, np.inf, loc=self.radius, scale=self.width)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        direction = rng.standard_normal((n, self.dim))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        r = self.radius_ppf(rng.random(n))
        return direction * r[:, None]

    def radius_cdf(self, r: np.ndarray) -> np.ndarray:
        """Exact CDF of the radius."""
        return self._radial.cdf(np.asarray(r, dtype=np.float64))

    def radius_ppf(self, q: np.ndarray) -> np.ndarray:
        """Exact quantile function of the radius."""
        return self._radial.ppf(np.asarray(q, dtype=np.float64))

    def pdf(self, x: np.ndarray) -> np.ndarray:
        x = self._points(x)
        r = np.linalg.norm(x, axis=1)
        area = 2 * math.pi ** (self.dim / 2) / math.gamma(self.dim / 2)  # of the unit sphere
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = self._radial.pdf(r) / (area * r ** (self.dim - 1))
        return np.where(r > 0, dens, 0.0)

    def pit(self, x: np.ndarray) -> np.ndarray:
        """Radius CDF, and in 2D also the azimuth ``atan2(y, x) / 2pi`` mapped to [0, 1)."""
        x = self._points(x)
        u_r = self.radius_cdf(np.linalg.norm(x, axis=1))
        if self.dim != 2:
            return u_r.reshape(-1, 1)
        u_phi = np.mod(np.arctan2(x[:, 1], x[:, 0]) / (2 * math.pi), 1.0)
        u_phi[u_phi >= 1.0] = 0.0  # a tiny negative angle rounds to 1.0 under mod; it is 0
        return np.stack([u_r, u_phi], axis=1)


def Ring(radius: float = 1.0, width: float = 0.1) -> Shell:
    """The 2D ring: :class:`Shell` with ``dim=2``."""
    return Shell(2, radius, width)


TOYS = {"camelback": CamelBack, "ring": Ring}
"""Toy densities with an exact pdf and PIT (what amplification and coverage studies need)."""


@dataclass(frozen=True)
class MixedTable:
    """A table of the column kinds real analysis tables hold, with exact marginal truth.

    Nine columns (``columns``), each of a kind that a plain standardisation gets wrong:

    - ``pt`` (GeV): heavy-tailed, ``log pt ~ N(pt_mu + pt_slope * njet, pt_sigma)``, so the
      leading pT rises with the jet multiplicity (the table's one correlation);
    - ``btag``: a score in [0, 1], ``Beta(btag_a, btag_b)``;
    - ``eta``: ``N(0, eta_sigma)`` truncated to ``|eta| <= eta_max`` (a detector acceptance);
    - ``phi`` (rad): uniform in ``[-pi, pi)``;
    - ``njet``: a multiplicity, ``Poisson(njet_mean)``, stored as int64;
    - ``iso``: a relative isolation, exactly 0 with probability ``iso_zero``, else
      exponential with mean ``iso_mean``;
    - ``tight``: a 0/1 identification flag, 1 with probability ``tight_p``, stored as float64;
    - ``mass`` (GeV): a Breit-Wigner of ``mass_peak`` and ``mass_width`` truncated to the
      analysis window ``mass_window``;
    - ``weight``: 1 for every event (a constant column).

    Every column but ``pt`` and ``njet`` is independent of the others. :meth:`cdf` gives the
    exact marginal CDFs, :attr:`support` the physical support, :meth:`point_masses` the exact
    probability of every value that holds a finite fraction of the events.
    """

    pt_mu: float = 3.2
    pt_slope: float = 0.15
    pt_sigma: float = 0.5
    btag_a: float = 2.0
    btag_b: float = 5.0
    eta_sigma: float = 1.5
    eta_max: float = 2.5
    njet_mean: float = 3.0
    iso_zero: float = 0.35
    iso_mean: float = 0.15
    tight_p: float = 0.3
    mass_peak: float = 91.1876
    mass_width: float = 2.4952
    mass_window: tuple[float, float] = (60.0, 120.0)

    columns = ("pt", "btag", "eta", "phi", "njet", "iso", "tight", "mass", "weight")
    units = {"pt": "GeV", "phi": "rad", "mass": "GeV"}
    descriptions = {
        "pt": "transverse momentum of the leading object (lognormal, rising with njet)",
        "btag": "a classifier score in [0, 1] (beta distribution)",
        "eta": "pseudorapidity within the acceptance |eta| <= 2.5 (truncated Gaussian)",
        "phi": "azimuth, uniform in [-pi, pi)",
        "njet": "jet multiplicity (Poisson)",
        "iso": "relative isolation: exactly 0 in 35 % of events, else exponential",
        "tight": "identification flag, 0 or 1",
        "mass": "invariant mass, Breit-Wigner truncated to the window 60-120 GeV",
        "weight": "event weight, 1 for every event",
    }

    @property
    def support(self) -> dict[str, tuple[float, float]]:
        """Closed physical support ``[low, high]`` of every column."""
        return {"pt": (0.0, math.inf), "btag": (0.0, 1.0), "eta": (-self.eta_max, self.eta_max),
                "phi": (-math.pi, math.pi), "njet": (0.0, math.inf), "iso": (0.0, math.inf),
                "tight": (0.0, 1.0), "mass": self.mass_window, "weight": (1.0, 1.0)}

    @property
    def integer(self) -> tuple[str, ...]:
        """Columns whose values are integers."""
        return ("njet", "tight", "weight")

    def point_masses(self) -> dict[str, dict[float, float]]:
        """Exact probabilities of the values that hold a finite fraction of a continuous
        column's events (the exact 0 of ``iso``, the constant ``weight``)."""
        return {"iso": {0.0: self.iso_zero}, "weight": {1.0: 1.0}}

    def _mass_cdf(self, x: np.ndarray) -> np.ndarray:
        lo, hi = (stats.cauchy.cdf(w, self.mass_peak, self.mass_width / 2) for w in self.mass_window)
        inside = (stats.cauchy.cdf(x, self.mass_peak, self.mass_width / 2) - lo) / (hi - lo)
        return np.clip(inside, 0.0, 1.0)

    def _eta(self) -> Any:
        a = self.eta_max / self.eta_sigma
        return stats.truncnorm(-a, a, loc=0.0, scale=self.eta_sigma)

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` events: column name -> array of shape ``(n,)``."""
        njet = rng.poisson(self.njet_mean, n)
        pt = np.exp(self.pt_mu + self.pt_slope * njet + self.pt_sigma * rng.standard_normal(n))
        btag = rng.beta(self.btag_a, self.btag_b, n)
        eta = self._eta().ppf(rng.random(n))
        phi = rng.uniform(-math.pi, math.pi, n)
        iso = np.where(rng.random(n) < self.iso_zero, 0.0, rng.exponential(self.iso_mean, n))
        tight = (rng.random(n) < self.tight_p).astype(np.float64)
        lo, hi = (stats.cauchy.cdf(w, self.mass_peak, self.mass_width / 2) for w in self.mass_window)
        mass = stats.cauchy.ppf(lo + (hi - lo) * rng.random(n), self.mass_peak, self.mass_width / 2)
        mass = np.clip(mass, *self.mass_window)  # the quantile of an edge may round past it
        return {"pt": pt, "btag": btag, "eta": eta, "phi": phi, "njet": njet.astype(np.int64),
                "iso": iso, "tight": tight, "mass": mass, "weight": np.ones(n)}

    def cdf(self, name: str, x: np.ndarray) -> np.ndarray:
        """Exact marginal CDF ``P(column <= x)`` of column ``name`` at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        if name == "pt":
            k = np.arange(0, 80)
            weights = stats.poisson.pmf(k, self.njet_mean)
            with np.errstate(divide="ignore"):
                z = (np.log(np.maximum(x, 0.0))[..., None] - self.pt_mu - self.pt_slope * k) / self.pt_sigma
            return (special.ndtr(z) * weights).sum(axis=-1)
        if name == "btag":
            return stats.beta.cdf(x, self.btag_a, self.btag_b)
        if name == "eta":
            return self._eta().cdf(x)
        if name == "phi":
            return np.clip((x + math.pi) / (2 * math.pi), 0.0, 1.0)
        if name == "njet":
            return stats.poisson.cdf(np.floor(x), self.njet_mean)
        if name == "iso":
            return np.where(x < 0, 0.0, self.iso_zero + (1 - self.iso_zero) * -np.expm1(-np.maximum(x, 0) / self.iso_mean))
        if name == "tight":
            return np.where(x < 0, 0.0, np.where(x < 1, 1 - self.tight_p, 1.0))
        if name == "mass":
            return self._mass_cdf(x)
        if name == "weight":
            return np.where(x < 1, 0.0, 1.0)
        raise FlashgenError(f"unknown column '{name}' of the mixed toy; choose from {', '.join(self.columns)}")


TABLE_TOYS = {"mixed": MixedTable}
"""Toy tables with exact marginal truth (no joint density): :meth:`MixedTable.sample` writes
columns of every kind an analysis table holds."""


def simulate_toy(name: str, n_events: int, seed: int, **params: Any) -> EventTable:
    """Sample ``n_events`` from toy ``name`` (``camelback``, ``ring`` or ``mixed``) into a table.

    Arguments:
        name: which toy (:data:`TOYS` or :data:`TABLE_TOYS`).
        n_events: number of events (>= 1).
        seed: seed of the numpy generator; the same seed gives the same table.
        params: constructor arguments of the toy (e.g. ``width=0.2`` for the ring).
    """
    if name in TABLE_TOYS:
        table = TABLE_TOYS[name](**params)
        data = table.sample(n_events, np.random.default_rng(seed))
        cols = {c: Column(c, table.units.get(c, ""), table.descriptions[c]) for c in table.columns}
    elif name in TOYS:
        toy = TOYS[name](**params)
        points = toy.sample(n_events, np.random.default_rng(seed))
        data = {c: points[:, j] for j, c in enumerate(toy.columns)}
        cols = {c: Column(c, "", f"coordinate {c} of the {name} toy") for c in toy.columns}
    else:
        raise FlashgenError(f"unknown toy '{name}'; choose from {', '.join([*TOYS, *TABLE_TOYS])}")
    meta = {"producer": f"flashgen simulate {name}", "seed": seed, "toy": name, "toy_params": params}
    return EventTable(data, cols, meta)


# ---------------------------------------------------------------------------------------------
# Profiles

AMPLIFICATION_GAN = GANConfig(
    latent=1000, uniform_latent=True, generator_hidden=(256,) * 7, activation="elu",
    dropout=0.5, discriminator_hidden=(256,) * 7, discriminator_activation="leaky_relu",
    discriminator_dropout=0.5, batch_statistics=32, gradient_penalty=0.01,
    instance_noise=0.1 / 4.12, lr=3e-4, betas=(0.5, 0.9),
)
"""The amplification paper's GAN (Butter et al., arXiv:2008.06545, Sec. 2): 1000 uniform inputs
in [-1, 1]; generator of seven 256-wide ELU layers with 50 % dropout kept at generation;
discriminator that sees each point beside its batch statistics (differences to the batch,
embedded 256/256/32, standard deviation over the batch), seven 256-wide leaky-ReLU (0.01) layers
with 50 % dropout, sigmoid; Adam (0.5, 0.9); gradient penalty 0.01; uniform noise of ±0.1 (in
units of x; the camel back's standard deviation is 4.12) on every discriminator input.

The paper trains 10,000 epochs of batches of 10 (100,000 steps at lr 5e-5 × 0.9 per 1,000
epochs, ~1 h on a GPU). The CPU schedule here is measured to do as well in under 5 minutes on
one core: batches of 20, 8,000 steps, lr 3e-4 decaying (cosine) by the paper's total factor
0.9^10 = 0.35 (benchmarks/results/papers.md)."""

CAMELBACK_PRESET = Preset(
    name="camelback",
    features=("x",),
    val_fraction=0.0,
    train={"flow": {"steps": 2000, "batch_size": 100, "snapshot_every": 500},
           "gan": {"steps": 8000, "batch_size": 20, "snapshot_every": 1000, "lr_decay": 0.35},
           "wgan-gp": {"steps": 6000, "batch_size": 100, "snapshot_every": 1000}},
    # Measured on 6 training samples of 100 events (quantile MSE at 10 / 50 quantiles, vs
    # the training sample's): flow 0.68x / 0.31x, WGAN 1.1x / 0.63x.
    hparams={"flow": FlowConfig(transforms=1, bins=16, lr=5e-3),
             "gan": AMPLIFICATION_GAN,
             "wgan-gp": WGANGPConfig(generator_hidden=(64, 64), critic_hidden=(64, 64), lr=5e-4)},
    papers={"gan": "the GAN of Butter et al., 'GANplifying event samples', arXiv:2008.06545"},
)

def _camelback_cli(srcs: Any) -> None:
    from .command import add_table_source

    add_table_source(srcs, "camelback", lambda args: simulate_toy("camelback", args.events, args.seed),
                     help="1D camel back: 0.5 N(-4,1) + 0.5 N(4,1); column x",
                     description="Sample the 1D camel back, an equal mixture of two unit-width "
                     "Gaussians at -4 and +4. Writes column x (dimensionless).",
                     default_events=100_000)


def _ring_cli(srcs: Any) -> None:
    from ..arguments import positive_float
    from .command import add_table_source

    p = add_table_source(srcs, "ring",
                         lambda args: simulate_toy("ring", args.events, args.seed, width=args.width),
                         help="2D ring of radius 1 smeared by N(0, 0.1); columns x, y",
                         description="Sample the 2D ring: uniform azimuth, radius Gaussian with "
                         "mean 1 and width --width. Writes columns x, y (dimensionless).",
                         default_events=100_000)
    p.add_argument("--width", type=positive_float, default=0.1,
                   help="Gaussian width of the radius, in units of the mean radius 1 (default 0.1)")


def _mixed_cli(srcs: Any) -> None:
    from .command import add_table_source

    add_table_source(srcs, "mixed", lambda args: simulate_toy("mixed", args.events, args.seed),
                     help="a table of every column kind (a stand-in for your own analysis table)",
                     description="Sample a table whose columns are of every kind an analysis table "
                     "holds, with exact truth: heavy-tailed (GeV), bounded, periodic (rad), integer, "
                     "zero-inflated, 0/1, peaked (GeV) and constant. A stand-in for your own sample: "
                     "flashgen run --data TABLE learns it without a preset.",
                     default_events=20_000)


PROFILES = (
    register_profile(Profile(
        name="camelback", description="1D camel back: 0.5 N(-4,1) + 0.5 N(4,1)",
        columns=(Column("x", "", "coordinate x of the camelback toy"),),
        presets=(CAMELBACK_PRESET,), truths={"camelback": CamelBack}, cli=_camelback_cli)),
    register_profile(Profile(
        name="ring", description="2D ring of radius 1 smeared by N(0, 0.1)",
        columns=(Column("x", "", "coordinate x of the ring toy"),
                 Column("y", "", "coordinate y of the ring toy")),
        truths={"ring": Ring}, cli=_ring_cli)),
    register_profile(Profile(
        name="mixed", description="a table of every column kind: heavy-tailed, bounded, periodic, "
        "integer, zero-inflated, 0/1, peaked, constant",
        columns=tuple(Column(c, MixedTable.units.get(c, ""), MixedTable.descriptions[c])
                      for c in MixedTable.columns), cli=_mixed_cli)),
)
