"""Unconditional (or conditional) GAN with physics regression terms in the generator loss.

The seed analysis' model: generator and discriminator MLPs trained with binary cross-entropy,
plus terms that pull the batch mean and width of derived physics quantities (for Z→μμ, the dimuon
mass) towards those of the training data:

    L_G = BCE + sum_q [ w_mean (<q>_batch - <q>_data)^2 + w_std (sigma_batch(q) - sigma_data(q))^2 ] / sigma_data(q)^2

The terms are generic: any differentiable function of the generated batch (``RegressionTerm``).
Dividing by the data's variance makes the weights dimensionless.

References:
    Hashemi, Amin, Datta, Olivito, Pierini, "LHC analysis-specific datasets with Generative
    Adversarial Networks", arXiv:1901.05282.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import MLP, LatentGenerator, register

__all__ = ["GAN", "RegressionTerm"]


@dataclass
class RegressionTerm:
    """Pull the batch mean and width of a derived quantity towards the training data's.

    Arguments:
        name: the quantity, e.g. ``"mll"``.
        function: ``(x, c) -> q`` from a model-space batch ``(batch, features)`` to the quantity
            in physical units ``(batch,)``, differentiable.
        mean, std: the quantity's mean and standard deviation in the training data.
        weight_mean, weight_std: weights of the two terms.
    """

    name: str
    function: Callable[[Tensor, Tensor], Tensor]
    mean: float
    std: float
    weight_mean: float = 1.0
    weight_std: float = 1.0

    def loss(self, x: Tensor, c: Tensor) -> Tensor:
        q = self.function(x, c)
        return (self.weight_mean * (q.mean() - self.mean) ** 2
                + self.weight_std * (q.std() - self.std) ** 2) / self.std**2


@register("gan")
class GAN(LatentGenerator):
    """GAN with a binary cross-entropy loss and physics regression terms.

    Arguments:
        features: number of features.
        context: number of condition columns (0: unconditional).
        latent: size of the Gaussian latent vector (default: ``features``, at least 4).
        generator_hidden: hidden layer sizes of the generator.
        discriminator_hidden: hidden layer sizes of the discriminator.
        lr: Adam learning rate of both networks.
        betas: Adam betas.
        instance_noise: width of uniform noise added to every discriminator input (model units,
            i.e. standard deviations); regularises the discriminator on small samples
            ("GANplifying" adds U[-0.1, 0.1] in physical units).
        regression: physics regression terms of the generator loss (not saved).
    """

    small = {"generator_hidden": (16, 16), "discriminator_hidden": (16, 16)}

    def __init__(self, features: int, context: int = 0, latent: int | None = None,
                 generator_hidden: Sequence[int] = (128, 256, 256, 128),
                 discriminator_hidden: Sequence[int] = (128, 128, 64, 32),
                 lr: float = 2e-4, betas: Sequence[float] = (0.5, 0.999),
                 instance_noise: float = 0.0, regression: Sequence[RegressionTerm] = ()) -> None:
        latent = latent or max(features, 4)
        super().__init__(regression=regression, features=features, context=context, latent=latent,
                         generator_hidden=list(generator_hidden),
                         discriminator_hidden=list(discriminator_hidden), lr=lr, betas=list(betas),
                         instance_noise=instance_noise)
        self.features, self.context, self.latent = features, context, latent
        self.generator = MLP(latent, features, generator_hidden, context)
        self.discriminator = MLP(features, 1, discriminator_hidden, context)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas = tuple(self.hparams["betas"])
        return [torch.optim.Adam(self.generator.parameters(), lr=self.hparams["lr"], betas=betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams["lr"], betas=betas)]

    def _blur(self, x: Tensor, generator: torch.Generator) -> Tensor:
        width = self.hparams["instance_noise"]
        if not width:
            return x
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + width * (2 * u - 1)

    def train_step(self, x: Tensor, c: Tensor, optimizers: Sequence[torch.optim.Optimizer],
                   generator: torch.Generator) -> dict[str, float]:
        opt_g, opt_d = optimizers
        fake = self.generator(self._noise(len(x), x, generator), c)

        real_logit = self.discriminator(self._blur(x, generator), c)
        fake_logit = self.discriminator(self._blur(fake.detach(), generator), c)
        d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                  + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        self.minimise(d_loss, opt_d)

        logit = self.discriminator(self._blur(fake, generator), c)
        g_loss = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        losses = {"d": d_loss.item(), "g": g_loss.item()}
        self.minimise(g_loss + self.regression_loss(fake, c, losses), opt_g)
        return losses
