"""The Z→μμ analysis paper's own GAN (seed paper 000), as the ``gan`` entries of the ``zmumu``
preset (17 features) and of ``zmumu-reduced`` (the two muon four-momenta, 7 features).

As the paper describes it (Sec. 3–4): the analysis rotation to μ1 py = 0 (μ1 py dropped),
``nvtx`` smeared by a Gaussian of width 0.5 (rounded back at generation, see
:class:`~flashgen.transforms.GaussianSmear`), every other feature as it is (standardised);
a generator of 7 dense layers (64, 128, 256, 512, 256, 128, N) with leaky ReLU and N Gaussian
inputs; a discriminator of 9 hidden layers (128, 128, 256, 256, 128, 64, 32, 16, 8), leaky
ReLU, sigmoid output; binary cross-entropy, plus ``c1 (<m(μμ)> − M_Z)^2 + c2 (σ(m(μμ)) − σ_M)^2``
per batch with ``c1 = c2 = 1e-4 GeV^-2``, M_Z and σ_M the training data's mean and RMS of
m(μμ); Adadelta; batches of 256 real + 256 generated events; a snapshot every 100 batches,
selected by the sum of KS statistics of m(μμ), φ_miss and iso1 (reduced model: of m(μμ) and
the seven features); 100,000 batches (full) and 40,000 (reduced).

Where flashgen differs: the paper trained on 1.6 million events, repeated each training 10–100
times and chose among the top snapshots by eye; ``nvtx`` is rounded, not floored (the floor
shifts it by −0.5); Keras' leaky-ReLU slope is not stated (torch's 0.01 is used).

References:
    Hashemi, Amin, Datta, Olivito, Pierini, "LHC analysis-specific datasets with Generative
    Adversarial Networks", arXiv:1901.05282.
"""

from __future__ import annotations

from typing import Any

from ...models.flow import FlowConfig
from ...models.gan import GANConfig
from ..registry import Preset

__all__ = ["GAN_HPARAMS", "GAN_SELECTION", "PAPER", "REDUCED", "REDUCED_PRESET", "gan_steps", "gan_train"]

PAPER = "the GAN of Hashemi et al., arXiv:1901.05282"
"""The paper whose model the ``gan`` entries build."""

GAN_HPARAMS = GANConfig(
    generator_hidden=(64, 128, 256, 512, 256, 128),
    discriminator_hidden=(128, 128, 256, 256, 128, 64, 32, 16, 8),
    optimizer="adadelta", lr=1.0,
)
"""Settings of the paper's GAN (latent size = number of features, the default)."""

PAPER_REGRESSION = (("mll", 1e-4, 1e-4),)
"""``(quantity, c1, c2)`` of the paper's Eq. (2), in GeV^-2 (not standardised)."""

GAN_SELECTION = ("mll", "met_phi", "iso1")
"""The paper's snapshot selection: KS of m(μμ) − M_Z (the same KS as m(μμ)), φ_miss and iso1."""

REDUCED = ("mu0_px", "mu0_py", "mu0_pz", "mu0_e", "mu1_px", "mu1_py", "mu1_pz", "mu1_e")
"""Laboratory-frame columns of the reduced model; the rotation drops μ1 py: 7 features."""


def gan_train(steps: int) -> dict[str, Any]:
    """Training-loop settings of the paper's GAN with ``steps`` batches."""
    return {"steps": steps, "batch_size": 256, "snapshot_every": 100, "lr_decay": 1.0}


def gan_steps(with_event: bool = True) -> list[Any]:
    """The paper's preprocessing: rotation to μ1 py = 0 (with MET for the full model), Gaussian
    smearing of nvtx (full model)."""
    from ...transforms import AzimuthalRotation, GaussianSmear

    vectors = [["mu0_px", "mu0_py"]] + ([["met_x", "met_y"]] if with_event else [])
    steps: list[Any] = [AzimuthalRotation(vectors, ["mu1_px", "mu1_py"])]
    return steps + ([GaussianSmear("nvtx", 0.5)] if with_event else [])


def _reduced_flow_steps() -> list[Any]:
    """The ``zmumu`` flow preprocessing restricted to the two muons."""
    from .preprocessing import muon_pair_steps

    return muon_pair_steps()


REDUCED_PRESET = Preset(
    name="zmumu-reduced",
    features=REDUCED,
    feature_steps=_reduced_flow_steps,
    model_steps={"gan": lambda: gan_steps(with_event=False)},
    selection=("mll", *REDUCED),
    regression=PAPER_REGRESSION,
    regression_standardised=False,
    train={"flow": {"steps": 3000, "batch_size": 512}, "gan": gan_train(40_000)},
    hparams={"flow": FlowConfig(transforms=6, hidden=(64, 64), bins=8), "gan": GAN_HPARAMS},
    papers={"gan": f"{PAPER} (reduced model, 7 features)"},
)
"""The Z→μμ paper's reduced dataset: the two muon four-momenta (7 features after the rotation)."""
