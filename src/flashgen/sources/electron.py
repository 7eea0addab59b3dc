"""Single-electron detector response: efficiency and log-normal pT smearing (Delphes CMS card).

Truth ``(pT, eta, phi)`` -> detected? and reconstructed ``(pT', eta', phi')``. The electron is
detected with the tracking efficiency of :func:`efficiency`; its pT is smeared log-normally with
mean ``pT`` and standard deviation ``res * pT`` (``res`` from :func:`resolution`, capped at 1),
exactly as Delphes' ``MomentumSmearing`` does; eta and phi are unchanged. Everything is exact
and vectorised, so conditional fidelity can be tested at any input point.

Two datasets (docs/physics.md, after the single-electron cWGAN-GP study):

- A: one fixed input ``pT = 4.25 GeV, eta = 2.5, phi = 1.5`` repeated.
- B: ``p ~ U[0, 20] GeV``, ``eta ~ U[-2.5, 2.5]``, ``phi ~ U[0, 2 pi)``, ``pT = p / cosh(eta)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from ..data import Column, EventTable
from ..errors import FlashgenError
from ..models.efficiency import EfficiencyConfig
from ..models.flow import FlowConfig
from ..models.wgan_gp import WGANGPConfig
from .registry import Observable, Preset, Profile, Slicing, register_profile
from .toys import ToyDensity

__all__ = [
    "DATASET_A",
    "ElectronResponse",
    "PROFILE",
    "efficiency",
    "response_cdf",
    "resolution",
    "simulate_electrons",
    "smear_parameters",
]

DATASET_A = (4.25, 2.5, 1.5)
"""The fixed input ``(pT/GeV, eta, phi/rad)`` of dataset A."""

ELECTRON_COLUMNS = [
    Column("gen_pt", "GeV", "true transverse momentum"),
    Column("gen_eta", "", "true pseudorapidity"),
    Column("gen_phi", "rad", "true azimuth"),
    Column("detected", "", "1 if the electron is reconstructed, else 0"),
    Column("pt", "GeV", "reconstructed transverse momentum (NaN if not detected)", nullable=True),
    Column("eta", "", "reconstructed pseudorapidity (NaN if not detected)", nullable=True),
    Column("phi", "rad", "reconstructed azimuth (NaN if not detected)", nullable=True),
]


def efficiency(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Exact electron tracking efficiency at ``pt`` (GeV) and ``eta``; arrays broadcast.

    Barrel (|eta| <= 1.5): 0.73 for 0.1 < pT <= 1, 0.95 for 1 < pT <= 100, 0.99 above;
    endcap (1.5 < |eta| <= 2.5): 0.50 / 0.83 / 0.90; zero for pT <= 0.1 or |eta| > 2.5.
    """
    pt, aeta = np.broadcast_arrays(np.asarray(pt, dtype=np.float64), np.abs(np.asarray(eta, dtype=np.float64)))
    barrel = aeta <= 1.5
    endcap = (aeta > 1.5) & (aeta <= 2.5)
    low = (pt > 0.1) & (pt <= 1.0)
    mid = (pt > 1.0) & (pt <= 100.0)
    high = pt > 100.0
    eff = np.zeros(pt.shape)
    eff[barrel & low], eff[barrel & mid], eff[barrel & high] = 0.73, 0.95, 0.99
    eff[endcap & low], eff[endcap & mid], eff[endcap & high] = 0.50, 0.83, 0.90
    return eff


def resolution(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Relative pT resolution ``sigma(pT)/pT`` of electrons, capped at 1 (zero for pT <= 0.1)."""
    pt, aeta = np.broadcast_arrays(np.asarray(pt, dtype=np.float64), np.abs(np.asarray(eta, dtype=np.float64)))
    res = np.select(
        [aeta <= 0.5, aeta <= 1.5, aeta <= 2.5],
        [np.hypot(0.03, pt * 1.3e-3), np.hypot(0.05, pt * 1.7e-3), np.hypot(0.15, pt * 3.1e-3)],
        default=0.0,
    )
    return np.minimum(np.where(pt > 0.1, res, 0.0), 1.0)


def smear_parameters(pt: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parameters ``(a, b)`` of the log-normal response: ``log pT' ~ N(a, b)``.

    ``b = sqrt(log(1 + res^2))`` and ``a = log(pT) - b^2 / 2``, so ``E[pT'] = pT`` and
    ``std[pT'] = res * pT``.
    """
    b = np.sqrt(np.log1p(resolution(pt, eta) ** 2))
    with np.errstate(divide="ignore"):
        a = np.log(np.asarray(pt, dtype=np.float64)) - 0.5 * b**2
    return a, b


def response_cdf(x: np.ndarray, pt: float, eta: float) -> np.ndarray:
    """Exact CDF of the reconstructed pT' (GeV) of a *detected* electron with true ``pt, eta``."""
    a, b = smear_parameters(np.float64(pt), np.float64(eta))
    x = np.asarray(x, dtype=np.float64)
    if b == 0:
        return (x >= pt).astype(np.float64)
    with np.errstate(divide="ignore"):
        return special.ndtr((np.log(x) - a) / b)


def simulate_electrons(n_events: int, seed: int, fixed: tuple[float, float, float] | None = None) -> EventTable:
    """Simulate ``n_events`` electrons (dataset B, or dataset A-like with ``fixed``).

    Arguments:
        n_events: number of electrons.
        seed: numpy generator seed; the same seed gives the same table.
        fixed: ``(pT/GeV, eta, phi/rad)`` to repeat instead of drawing dataset B's inputs.

    Returns:
        A table with the columns of ``ELECTRON_COLUMNS``.
    """
    rng = np.random.default_rng(seed)
    if fixed is not None:
        pt0, eta0, phi0 = (float(v) for v in fixed)
        if not (pt0 > 0 and np.isfinite(pt0) and np.isfinite(eta0) and np.isfinite(phi0)):
            raise FlashgenError(f"--fixed needs a positive pT and finite eta, phi; got {fixed}")
        pt = np.full(n_events, pt0)
        eta = np.full(n_events, eta0)
        phi = np.full(n_events, phi0)
    else:
        p = rng.uniform(0.0, 20.0, n_events)
        eta = rng.uniform(-2.5, 2.5, n_events)
        phi = rng.uniform(0.0, 2 * np.pi, n_events)
        pt = p / np.cosh(eta)
    detected = rng.random(n_events) < efficiency(pt, eta)
    a, b = smear_parameters(pt, eta)
    z = rng.standard_normal(n_events)
    with np.errstate(invalid="ignore"):
        pt_reco = np.where(detected, np.exp(a + b * z), np.nan)
    data = {
        "gen_pt": pt,
        "gen_eta": eta,
        "gen_phi": phi,
        "detected": detected.astype(np.int8),
        "pt": pt_reco,
        "eta": np.where(detected, eta, np.nan),
        "phi": np.where(detected, phi, np.nan),
    }
    meta = {"producer": "flashgen simulate electron", "seed": seed,
            "dataset": "fixed" if fixed is not None else "B", "fixed": list(fixed) if fixed else None}
    return EventTable(data, {c.name: c for c in ELECTRON_COLUMNS}, meta)


# ---------------------------------------------------------------------------------------------
# Exact truth at a fixed input


@dataclass(frozen=True)
class ElectronResponse(ToyDensity):
    """Reconstructed pT' (GeV) of *detected* electrons at one fixed true input, as a 1D truth.

    Samples come from :func:`flashgen.sources.electron.simulate_electrons` (undetected electrons
    are dropped); the probability integral transform is the exact log-normal
    :func:`~flashgen.sources.electron.response_cdf`. Defaults: dataset A (pT = 4.25 GeV,
    eta = 2.5, phi = 1.5 rad).
    """

    pt: float = 4.25
    eta: float = 2.5
    phi: float = 1.5
    dim = 1
    columns = ("pt",)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        eff = float(efficiency(self.pt, self.eta))
        if eff <= 0:
            raise FlashgenError(f"electrons at pT={self.pt} GeV, eta={self.eta} are never detected")
        out: list[np.ndarray] = []
        have = 0
        while have < n:
            draw = int((n - have) / eff * 1.1) + 100
            table = simulate_electrons(draw, int(rng.integers(2**62)), (self.pt, self.eta, self.phi))
            pt = table["pt"][table["detected"] == 1]
            out.append(pt)
            have += len(pt)
        return np.concatenate(out)[:n].reshape(n, 1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        a, b = smear_parameters(np.float64(self.pt), np.float64(self.eta))
        return stats.lognorm.pdf(self._points(x)[:, 0], s=b, scale=np.exp(a))

    def pit(self, x: np.ndarray) -> np.ndarray:
        return np.clip(response_cdf(self._points(x)[:, 0], self.pt, self.eta), 0.0, 1.0).reshape(-1, 1)


# ---------------------------------------------------------------------------------------------
# Profile


def pt_response(table: Any) -> np.ndarray:
    """Reconstructed over true transverse momentum, pT'/pT (NaN when not detected)."""
    gen = np.asarray(table["gen_pt"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gen > 0, np.asarray(table["pt"], dtype=np.float64) / gen, np.nan)


def _gen_pt(table: Any) -> np.ndarray:
    return np.asarray(table["gen_pt"], dtype=np.float64)


def _abs_gen_eta(table: Any) -> np.ndarray:
    return np.abs(np.asarray(table["gen_eta"], dtype=np.float64))


def _feature_steps() -> list[Any]:
    from ..transforms import Residual

    return [
        Residual("pt", "gen_pt", mode="log-ratio"),
        Residual("eta", "gen_eta", mode="difference"),
        Residual("phi", "gen_phi", mode="difference"),
    ]


def _condition_steps() -> list[Any]:
    from ..transforms import Log

    return [Log("gen_pt", offset=0.05)]


REPORT_WGAN = WGANGPConfig(
    latent=100, generator_hidden=(256, 256, 256), critic_hidden=(256, 256, 256),
    lr=1e-3, betas=(0.5, 0.9), critic_steps=5, penalty=10.0, one_sided=True,
)
"""The single-electron report's conditional WGAN-GP (seed report 001): the condition
(pT, eta, phi) at the input of every layer of generator and critic, Gaussian latent noise of
unit width (100 numbers, the report's usual choice), an unbounded critic output, Adam with lr
1e-3 and betas (0.5, 0.9). Where the report is silent or fails here:

- its layer widths are in a figure the text lacks (5.7 million parameters in all); three hidden
  layers of 256 keep a training within minutes on a CPU;
- its penalty weight and critic steps are not stated: Gulrajani et al.'s 10 and 5;
- its Eq. (A7) penalty is two-sided; with it (and the rest as above) the critic is trapped and
  the generator runs away: KS of pT' 0.98-1.0 at every tested input (100,000 rows of dataset
  B). The one-sided form (Petzka et al.) trains: KS 0.03-0.09 after 4,000 steps;
- detection is learnt by the preset's efficiency classifier, as for every model (the report
  does not say how it treats undetected electrons)."""

PRESET = Preset(
    name="electron",
    features=("pt", "eta", "phi"),
    conditions=("gen_pt", "gen_eta", "gen_phi"),
    feature_steps=_feature_steps,
    condition_steps=_condition_steps,
    efficiency="detected",
    # Selection by held-out NLL: the KS of the marginal pT' cannot see errors at fixed inputs
    # and kept early snapshots (measured, bench_electron with 1e6 rows: KS at the fixed inputs
    # up to 0.06-0.09 with KS selection, at most 0.011 with the last or the NLL snapshot).
    selection=("loss",),
    train={"flow": {"steps": 8000, "batch_size": 1024, "lr_decay": 0.01},
           "gan": {"steps": 8000, "batch_size": 1024},
           "wgan-gp": {"steps": 4000, "batch_size": 1024},
           "efficiency": {"steps": 16000, "batch_size": 4096}},
    hparams={"flow": FlowConfig(transforms=3, hidden=(128, 128), bins=16),
             "wgan-gp": REPORT_WGAN,
             "efficiency": EfficiencyConfig(hidden=(128, 128, 128), lr=3e-3)},
    papers={"wgan-gp": "the conditional WGAN-GP of the single-electron Delphes report (seed 001)"},
)

def _fixed(text: str) -> tuple[float, float, float]:
    import argparse

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"'{text}' must be three numbers PT,ETA,PHI (GeV, -, rad)")
    return values  # type: ignore[return-value]


def _cli(srcs: Any) -> None:
    from .command import add_table_source

    p = add_table_source(
        srcs, "electron", lambda args: simulate_electrons(args.events, args.seed, args.fixed),
        help="single-electron detector response (dataset B, or --fixed input)",
        description="Simulate electrons through the Delphes CMS electron efficiency and log-normal "
        "pT smearing. Inputs: dataset B (p ~ U[0,20] GeV, eta ~ U[-2.5,2.5], phi ~ U[0,2pi)) or "
        "one --fixed input (dataset A is --fixed 4.25,2.5,1.5). Columns: gen_pt [GeV], gen_eta, "
        "gen_phi [rad], detected (0/1), pt [GeV], eta, phi [rad] (NaN when not detected).",
        default_events=1_000_000)
    p.add_argument("--fixed", type=_fixed, metavar="PT,ETA,PHI",
                   help="repeat one input pT [GeV], eta, phi [rad] instead of dataset B's random "
                   "inputs (default: none, i.e. dataset B)")


PROFILE = register_profile(Profile(
    name="electron",
    description="single-electron detector response (Delphes CMS efficiency and pT smearing)",
    columns=tuple(ELECTRON_COLUMNS),
    observables=(Observable("pt_response", pt_response, "", ("pt", "gen_pt"), r"$p_T' / p_T$", None,
                            "electron pT response (reconstructed / true), detected electrons"),),
    slicings=(
        Slicing("gen_pt", _gen_pt, ("gen_pt",), "gen_pt", targets=("pt",), efficiency="detected",
                quantiles=(0.25, 0.5, 0.75), unit="GeV"),
        Slicing("abs_gen_eta", _abs_gen_eta, ("gen_eta",), "|gen_eta|", targets=("pt",),
                efficiency="detected", edges=(0.5, 1.5)),
    ),
    presets=(PRESET,),
    truths={"electron-A": ElectronResponse},
    cli=_cli,
))
