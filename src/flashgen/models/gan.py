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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig, setting
from .interface import ACTIVATIONS, MLP, LatentGenerator, activation_class, register

__all__ = ["BatchStatistics", "GAN", "GANConfig", "RegressionTerm"]


@dataclass
class RegressionTerm:
    """Pull the batch mean and width of a derived quantity towards the training data's.

    Arguments:
        name: the quantity, e.g. ``"mll"``.
        function: ``(x, c) -> q`` from a model-space batch ``(batch, features)`` to the quantity
            in physical units ``(batch,)``, differentiable.
        mean, std: the quantity's mean and standard deviation in the training data.
        weight_mean, weight_std: weights of the two terms.
        standardised: divide both terms by ``std**2`` (dimensionless weights); ``False`` keeps
            them in the quantity's units squared, the seed analysis' ``c1 (<m> - M_Z)^2 +
            c2 (sigma_m - sigma_M)^2`` with ``c1 = c2 = 1e-4 / GeV^2``.
    """

    name: str
    function: Callable[[Tensor, Tensor], Tensor]
    mean: float
    std: float
    weight_mean: float = 1.0
    weight_std: float = 1.0
    standardised: bool = True

    def loss(self, x: Tensor, c: Tensor) -> Tensor:
        q = self.function(x, c)
        value = self.weight_mean * (q.mean() - self.mean) ** 2 + self.weight_std * (q.std() - self.std) ** 2
        return value / self.std**2 if self.standardised else value


class BatchStatistics(nn.Module):
    """What a point looks like relative to its batch, for a discriminator that must see mode
    collapse: the differences ``B - x`` to every batch member, embedded point by point (three
    width-1 convolutions = per-difference linear layers, leaky ReLU 0.01) and aggregated by the
    standard deviation over the batch.

    Arguments:
        features: size ``d`` of a point.
        embedding: size ``m`` of the aggregated statistics.
        hidden: widths of the embedding's first layers.

    Shapes: ``x (n, d) -> (n, m)``; costs ``O(n^2)`` in the batch size ``n``.

    References:
        Butter, Diefenbacher, Kasieczka, Nachman, Plehn, "GANplifying event samples",
        arXiv:2008.06545, Sec. 2 (after DeepSets, Zaheer et al., arXiv:1703.06114).
    """

    def __init__(self, features: int, embedding: int = 32, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        sizes = [features, *hidden, embedding]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: Tensor) -> Tensor:
        h = x.unsqueeze(0) - x.unsqueeze(1)  # (n, n, d): row i holds B - x_i
        for layer in self.layers:
            h = F.leaky_relu(layer(h), 0.01)
        return h.std(dim=1)


@dataclass(frozen=True)
class GANConfig(ModelConfig):
    """Settings of :class:`GAN`.

    Arguments:
        latent: size of the latent vector (default ``None``: ``features``, at least 4).
        generator_hidden: hidden layer sizes of the generator.
        discriminator_hidden: hidden layer sizes of the discriminator.
        lr: learning rate of both networks.
        betas: Adam betas.
        optimizer: ``"adam"`` or ``"adadelta"`` (the Z→μμ paper's; rho 0.95, eps 1e-7, Keras'
            defaults, ``lr`` 1 there).
        activation, discriminator_activation: hidden activations (``"leaky_relu"``, ``"elu"``,
            ``"relu"``); the discriminator's defaults (``None``) to the generator's.
        uniform_latent: latent numbers uniform in [-1, 1] instead of standard normal.
        dropout: dropout of the generator's hidden layers, kept active at generation.
        discriminator_dropout: dropout of the discriminator's hidden layers (training only).
        batch_statistics: size of the batch-statistics embedding the discriminator sees beside
            each point (:class:`BatchStatistics`; 0: none).
        gradient_penalty: weight ``gamma`` of the regulariser of Roth et al. (arXiv:1705.09367),
            ``gamma/2 E[(1 - D)^2 |grad logit D|^2]_data + gamma/2 E[D^2 |grad logit D|^2]_gen``,
            evaluated at the (noised) discriminator inputs; 0: none.
        instance_noise: width of uniform noise added to every discriminator input (model units,
            i.e. standard deviations); regularises the discriminator on small samples
            ("GANplifying" adds U[-0.1, 0.1] in physical units).
    """

    latent: int | None = setting(None, minimum=1)
    generator_hidden: tuple[int, ...] = setting((128, 256, 256, 128), minimum=1)
    discriminator_hidden: tuple[int, ...] = setting((128, 128, 64, 32), minimum=1)
    lr: float = setting(2e-4, above=0)
    betas: tuple[float, float] = setting((0.5, 0.999), minimum=0, below=1)
    optimizer: str = setting("adam", choices=("adam", "adadelta"))
    activation: str = setting("leaky_relu", choices=tuple(ACTIVATIONS))
    discriminator_activation: str | None = setting(None, choices=tuple(ACTIVATIONS))
    uniform_latent: bool = setting(False)
    dropout: float = setting(0.0, minimum=0, below=1)
    discriminator_dropout: float = setting(0.0, minimum=0, below=1)
    batch_statistics: int = setting(0, minimum=0)
    gradient_penalty: float = setting(0.0, minimum=0)
    instance_noise: float = setting(0.0, minimum=0)


@register("gan")
class GAN(LatentGenerator):
    """GAN with a binary cross-entropy loss and physics regression terms.

    The defaults are a generic GAN; the presets build the papers' own: the Z→μμ analysis' GAN
    (``--preset zmumu``, ``zmumu-reduced``: leaky-ReLU networks of 7 and 10 layers, Adadelta,
    m(μμ) regression terms in GeV²) and the amplification paper's (``--preset camelback``:
    uniform latent of 1000, ELU, dropout kept at generation, a discriminator that sees batch
    statistics, a gradient penalty).

    Arguments:
        features: number of features.
        context: number of condition columns (0: unconditional).
        config: the settings (:class:`GANConfig`, a mapping of some of them, or ``None``: the
            defaults); ``settings`` override single ones. The model holds them resolved
            (``latent`` and ``discriminator_activation`` set).
        regression: physics regression terms of the generator loss (not saved).
    """

    config_class = GANConfig
    small = GANConfig(generator_hidden=(16, 16), discriminator_hidden=(16, 16))
    config: GANConfig

    def __init__(self, features: int, context: int = 0, config: GANConfig | Mapping[str, Any] | None = None,
                 regression: Sequence[RegressionTerm] = (), **settings: Any) -> None:
        cfg = self.settings(config, settings)
        cfg = replace(cfg, latent=cfg.latent or max(features, 4),
                      discriminator_activation=cfg.discriminator_activation or cfg.activation)
        super().__init__(cfg, regression=regression, features=features, context=context)
        latent, batch_statistics = cfg.latent, cfg.batch_statistics
        assert latent is not None and cfg.discriminator_activation is not None
        self.features, self.context, self.latent = features, context, latent
        self.uniform_latent = cfg.uniform_latent
        self.generator = MLP(latent, features, cfg.generator_hidden, context, activation_class(cfg.activation),
                             dropout=cfg.dropout, sampling_dropout=True)
        self.statistics = BatchStatistics(features, batch_statistics) if batch_statistics else None
        self.discriminator = MLP(features + batch_statistics, 1, cfg.discriminator_hidden, context,
                                 activation_class(cfg.discriminator_activation),
                                 dropout=cfg.discriminator_dropout)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        lr = self.config.lr
        d_params = list(self.discriminator.parameters()) + (
            list(self.statistics.parameters()) if self.statistics is not None else [])
        if self.config.optimizer == "adadelta":
            return [torch.optim.Adadelta(self.generator.parameters(), lr=lr, rho=0.95, eps=1e-7),
                    torch.optim.Adadelta(d_params, lr=lr, rho=0.95, eps=1e-7)]
        betas = self.config.betas
        return [torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
                torch.optim.Adam(d_params, lr=lr, betas=betas)]

    def _blur(self, x: Tensor, generator: torch.Generator) -> Tensor:
        width = self.config.instance_noise
        if not width:
            return x
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + width * (2 * u - 1)

    def _logit(self, x: Tensor, c: Tensor, generator: torch.Generator) -> Tensor:
        """Discriminator logit of a batch ``x (n, d)``; with batch statistics the batch is the
        set each point is compared with."""
        if self.statistics is not None:
            x = torch.cat([x, self.statistics(x)], dim=1)
        return self.discriminator(x, c, generator)

    def _penalty(self, x: Tensor, c: Tensor, generator: torch.Generator, real: bool) -> tuple[Tensor, Tensor]:
        """``(logit, Roth et al.'s penalty term)`` of a discriminator input batch."""
        x = x.detach().requires_grad_(True)
        logit = self._logit(x, c, generator)
        (grad,) = torch.autograd.grad(logit.sum(), x, create_graph=True)
        d = torch.sigmoid(logit).squeeze(1)
        weight = (1 - d) ** 2 if real else d**2
        return logit, (weight * grad.pow(2).sum(dim=1)).mean()

    def train_step(self, x: Tensor, c: Tensor, optimizers: Sequence[torch.optim.Optimizer],
                   generator: torch.Generator) -> dict[str, float]:
        opt_g, opt_d = optimizers
        like = self.generator.layers[0].weight
        fake = self.generate(len(x), c, generator, like)

        real_in, fake_in = self._blur(x, generator), self._blur(fake.detach(), generator)
        gamma = self.config.gradient_penalty
        if gamma:
            real_logit, pen_real = self._penalty(real_in, c, generator, True)
            fake_logit, pen_fake = self._penalty(fake_in, c, generator, False)
            penalty = 0.5 * gamma * (pen_real + pen_fake)
        else:
            real_logit, fake_logit = self._logit(real_in, c, generator), self._logit(fake_in, c, generator)
            penalty = torch.zeros(())
        d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                  + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        self.minimise(d_loss + penalty, opt_d)

        logit = self._logit(self._blur(fake, generator), c, generator)
        g_loss = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        losses = {"d": d_loss.item(), "g": g_loss.item()}
        if gamma:
            losses["gp"] = penalty.item()
        self.minimise(g_loss + self.regression_loss(fake, c, losses), opt_g)
        return losses
