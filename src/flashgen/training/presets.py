"""Presets: the sensible defaults for each reference dataset, in one place.

A preset names the features and conditions, the preprocessing steps, the quantities whose KS sum
selects the best snapshot, the GAN's physics regression terms, and per-model hyperparameters and
training lengths. Anything given explicitly to :func:`flashgen.training.train` (or on the command
line) overrides the preset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import physics
from ..errors import FlashgenError
from ..sources.zmumu.columns import FEATURES as ZMUMU_FEATURES
from ..sources.zmumu.columns import JETS
from ..transforms import (Asinh, AzimuthalRotation, Dequantize, DimuonMass, Log, Logit,
                          OnShellEnergy, Residual, SortDescending, Transform, ZeroPadding)

__all__ = ["PRESETS", "Preset", "QUANTITIES", "default_steps", "quantity"]

QUANTITIES: dict[str, Callable[[Any], Any]] = {
    "mll": physics.mll,
    "ptll": physics.ptll,
    "met": physics.met,
    "met_phi": physics.met_phi,
    "dphi_mumu": physics.dphi_mumu,
    "n_jets": physics.n_jets,
}
"""Derived quantities usable for snapshot selection and GAN regression terms, by name."""


def quantity(name: str, cols: dict[str, Any]) -> Any:
    """A column of ``cols`` named ``name``, else the derived quantity of :data:`QUANTITIES`."""
    if name in cols:
        return cols[name]
    if name in QUANTITIES:
        return QUANTITIES[name](cols)
    raise FlashgenError(f"unknown quantity '{name}': not a column, nor one of {', '.join(QUANTITIES)}")


@dataclass(frozen=True)
class Preset:
    """Defaults for one kind of dataset.

    Arguments:
        name: preset name.
        features: generated columns.
        conditions: condition columns (empty: unconditional).
        feature_steps: factory of the feature preprocessing steps.
        condition_steps: factory of the condition preprocessing steps.
        efficiency: 0/1 column learned by a detection-efficiency classifier, if any.
        selection: quantities whose KS sum on held-out data selects the snapshot (default: the
            features), or ``("loss",)``: the model's held-out loss (a flow's NLL).
        regression: GAN regression terms ``(quantity, weight_mean, weight_std)``.
        val_fraction: fraction of events held out for selection (0: keep the last snapshot).
        train: training-loop settings per model kind (``steps``, ``batch_size``, ...).
        hparams: constructor arguments per model kind.
    """

    name: str
    features: tuple[str, ...]
    conditions: tuple[str, ...] = ()
    feature_steps: Callable[[], list[Transform]] = list
    condition_steps: Callable[[], list[Transform]] = list
    efficiency: str | None = None
    selection: tuple[str, ...] = ()
    regression: tuple[tuple[str, float, float], ...] = ()
    val_fraction: float = 0.2
    train: dict[str, dict[str, Any]] = field(default_factory=dict)
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)


def _zmumu_steps() -> list[Transform]:
    return [
        SortDescending(JETS),
        OnShellEnergy("mu0_px", "mu0_py", "mu0_pz", "mu0_e"),
        OnShellEnergy("mu1_px", "mu1_py", "mu1_pz", "mu1_e"),
        # m(μμ) becomes a coordinate (its line shape is learnt directly) in place of μ0's pz
        DimuonMass(["mu0_px", "mu0_py", "mu0_pz"], ["mu1_px", "mu1_py", "mu1_pz"]),
        Logit("mll", 50.0, 150.0),  # the selection window
        Dequantize("dy_sign"),
        AzimuthalRotation([["mu0_px", "mu0_py"], ["met_x", "met_y"]], ["mu1_px", "mu1_py"]),
        Log("mu1_px"),  # the rotated μ1 px is its pT > 0
        Asinh("mu0_px", scale=30.0),
        Asinh("mu0_py", scale=20.0),
        Asinh("mu1_pz", scale=50.0),
        Asinh("met_x", scale=20.0),
        Asinh("met_y", scale=20.0),
        Dequantize("nvtx"),
        ZeroPadding(["iso0", "iso1"], threshold=0.0, low=-0.01),  # ~4 % are exactly 0
        Log("iso0", offset=0.02, lower=None),
        Log("iso1", offset=0.02, lower=None),
        ZeroPadding(JETS, threshold=10.0),
        *[Log(j) for j in JETS],
    ]


def _electron_steps() -> list[Transform]:
    return [
        Residual("pt", "gen_pt", mode="log-ratio"),
        Residual("eta", "gen_eta", mode="difference"),
        Residual("phi", "gen_phi", mode="difference"),
    ]


def _electron_condition_steps() -> list[Transform]:
    return [Log("gen_pt", offset=0.05)]


PRESETS: dict[str, Preset] = {
    "zmumu": Preset(
        name="zmumu",
        features=tuple(ZMUMU_FEATURES),
        feature_steps=_zmumu_steps,
        selection=("mll", "met_phi", "iso1"),
        regression=(("mll", 1.0, 1.0),),
        # Measured on 6,900 training events (9,199 selected, a quarter held out): the flow below
        # reproduces the m(μμ) peak to 0.01 GeV and its width to 0.5 %, classifier AUC 0.56.
        # The GAN needs many steps and instance noise: with 40,000 steps and no noise its m(μμ)
        # width came out 26 % narrow; with noise 0.1 and lr 1e-4, 5 % narrow (peak +0.3 GeV).
        train={"flow": {"steps": 5000, "batch_size": 512},
               "gan": {"steps": 40000, "batch_size": 512},
               "wgan-gp": {"steps": 10000, "batch_size": 512}},
        hparams={"flow": {"transforms": 8, "hidden": (64, 64), "bins": 8},
                 "gan": {"instance_noise": 0.1, "lr": 1e-4}},
    ),
    "electron": Preset(
        name="electron",
        features=("pt", "eta", "phi"),
        conditions=("gen_pt", "gen_eta", "gen_phi"),
        feature_steps=_electron_steps,
        condition_steps=_electron_condition_steps,
        efficiency="detected",
        # Selection by held-out NLL: the KS of the marginal pT' cannot see errors at fixed inputs
        # and kept early snapshots (measured, bench_electron with 1e6 rows: KS at the fixed inputs
        # up to 0.06-0.09 with KS selection, at most 0.011 with the last or the NLL snapshot).
        selection=("loss",),
        train={"flow": {"steps": 8000, "batch_size": 1024, "lr_decay": 0.01},
               "gan": {"steps": 8000, "batch_size": 1024},
               "wgan-gp": {"steps": 8000, "batch_size": 1024},
               "efficiency": {"steps": 16000, "batch_size": 4096}},
        hparams={"flow": {"transforms": 3, "hidden": (128, 128), "bins": 16},
                 "efficiency": {"hidden": (128, 128, 128), "lr": 3e-3}},
    ),
    "camelback": Preset(
        name="camelback",
        features=("x",),
        val_fraction=0.0,
        train={"flow": {"steps": 2000, "batch_size": 100, "snapshot_every": 500},
               "gan": {"steps": 6000, "batch_size": 100, "snapshot_every": 1000},
               "wgan-gp": {"steps": 6000, "batch_size": 100, "snapshot_every": 1000}},
        # Measured on 6 training samples of 100 events (quantile MSE at 10 / 50 quantiles, vs
        # the training sample's): flow 0.68x / 0.31x, GAN 0.94x / 0.36x, WGAN 1.1x / 0.63x.
        hparams={"flow": {"transforms": 1, "bins": 16, "lr": 5e-3},
                 "gan": {"generator_hidden": (64, 64), "discriminator_hidden": (64, 64),
                         "instance_noise": 0.2},
                 "wgan-gp": {"generator_hidden": (64, 64), "critic_hidden": (64, 64), "lr": 5e-4}},
    ),
}


def default_steps(features: list[str], dtypes: dict[str, np.dtype]) -> list[Transform]:
    """Preprocessing without a preset: dequantise integer-valued columns, standardise the rest."""
    return [Dequantize(f) for f in features if np.issubdtype(dtypes[f], np.integer)]
