"""Conditional Wasserstein GAN with gradient penalty; the condition enters every layer.

The critic ``f`` estimates the Wasserstein-1 distance between data and generated events; a
gradient penalty on random interpolates ``x_hat`` keeps it 1-Lipschitz. By default the penalty is
one-sided, ``lambda E[max(0, |grad f(x_hat)| - 1)^2]`` (WGAN-LP): the two-sided
``(|grad f| - 1)^2`` puts a barrier at ``grad f = 0`` that, with one feature (the camel back, the
electron pT response), traps the critic with the wrong sign of slope and lets the generator run
away — measured here; the one-sided form trains both.
Generator and critic receive the condition at the input of every layer, the design of the
single-electron detector-response study. The generator is updated once every ``critic_steps``
critic updates.

References:
    Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028;
    Petzka, Fischer, Lukovnicov, "On the regularization of Wasserstein GANs", arXiv:1709.08894;
    the single-electron cWGAN-GP study of the Delphes electron response (seed paper 001).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from .config import ModelConfig, setting
from .interface import MLP, LatentGenerator, register

__all__ = ["WGANGP", "WGANGPConfig"]


@dataclass(frozen=True)
class WGANGPConfig(ModelConfig):
    """Settings of :class:`WGANGP`.

    Arguments:
        latent: latent size (default ``None``: ``features``, at least 4).
        generator_hidden, critic_hidden: hidden layer sizes.
        lr: Adam learning rate; betas: Adam betas (0.5, 0.9 as in the WGAN-GP paper).
        critic_steps: critic updates per generator update.
        penalty: gradient-penalty weight lambda.
        one_sided: penalise only gradient norms above 1 (WGAN-LP) instead of any deviation.
    """

    latent: int | None = setting(None, minimum=1)
    generator_hidden: tuple[int, ...] = setting((128, 128, 128), minimum=1)
    critic_hidden: tuple[int, ...] = setting((128, 128, 128), minimum=1)
    lr: float = setting(2e-4, above=0)
    betas: tuple[float, float] = setting((0.5, 0.9), minimum=0, below=1)
    critic_steps: int = setting(5, minimum=1)
    penalty: float = setting(10.0, minimum=0)
    one_sided: bool = setting(True)


@register("wgan-gp")
class WGANGP(LatentGenerator):
    """Conditional Wasserstein GAN with gradient penalty.

    Arguments:
        features: number of features.
        context: number of condition columns (0: unconditional).
        config: the settings (:class:`WGANGPConfig`, a mapping of some of them, or ``None``: the
            defaults); ``settings`` override single ones. The model holds them with ``latent`` set.
        regression: physics regression terms of the generator loss (not saved).
    """

    config_class = WGANGPConfig
    small = WGANGPConfig(generator_hidden=(16, 16), critic_hidden=(16, 16), critic_steps=2)
    config: WGANGPConfig

    def __init__(self, features: int, context: int = 0,
                 config: WGANGPConfig | Mapping[str, Any] | None = None,
                 regression: Sequence[Any] = (), **settings: Any) -> None:
        cfg = self.settings(config, settings)
        cfg = replace(cfg, latent=cfg.latent or max(features, 4))
        super().__init__(cfg, regression=regression, features=features, context=context)
        assert cfg.latent is not None
        self.features, self.context, self.latent = features, context, cfg.latent
        self.generator = MLP(cfg.latent, features, cfg.generator_hidden, context)
        self.critic = MLP(features, 1, cfg.critic_hidden, context)
        # The Wasserstein objective is blind to a constant offset of the critic: no output bias.
        self.critic.layers[-1].register_parameter("bias", None)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas, lr = self.config.betas, self.config.lr
        return [torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
                torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas)]

    def train_step(self, x: Tensor, c: Tensor, optimizers: Sequence[torch.optim.Optimizer],
                   generator: torch.Generator) -> dict[str, float]:
        opt_g, opt_c = optimizers
        fake = self.generate(len(x), c, generator, x).detach()
        alpha = torch.rand(len(x), 1, generator=generator, device=x.device, dtype=x.dtype)
        mix = (alpha * x + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(mix, c).sum(), mix, create_graph=True)
        excess = grad.norm(dim=1) - 1
        penalty = ((excess.clamp_min(0) if self.config.one_sided else excess) ** 2).mean()
        w_distance = self.critic(x, c).mean() - self.critic(fake, c).mean()
        c_loss = -w_distance + self.config.penalty * penalty
        self.minimise(c_loss, opt_c)
        losses = {"w": w_distance.item(), "gp": penalty.item()}

        self.updates += 1
        if int(self.updates) % self.config.critic_steps == 0:
            fake = self.generate(len(x), c, generator, x)
            g_loss = -self.critic(fake, c).mean()
            self.minimise(g_loss + self.regression_loss(fake, c, losses), opt_g)
        return losses
