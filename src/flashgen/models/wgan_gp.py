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

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .interface import MLP, LatentGenerator, register

__all__ = ["WGANGP"]


@register("wgan-gp")
class WGANGP(LatentGenerator):
    """Conditional Wasserstein GAN with gradient penalty.

    Arguments:
        features: number of features.
        context: number of condition columns (0: unconditional).
        latent: latent size (default: ``features``, at least 4).
        generator_hidden, critic_hidden: hidden layer sizes.
        lr: Adam learning rate; betas: Adam betas (0.5, 0.9 as in the WGAN-GP paper).
        critic_steps: critic updates per generator update.
        penalty: gradient-penalty weight lambda.
        one_sided: penalise only gradient norms above 1 (WGAN-LP) instead of any deviation.
        regression: physics regression terms of the generator loss (not saved).
    """

    small = {"generator_hidden": (16, 16), "critic_hidden": (16, 16), "critic_steps": 2}

    def __init__(self, features: int, context: int = 0, latent: int | None = None,
                 generator_hidden: Sequence[int] = (128, 128, 128),
                 critic_hidden: Sequence[int] = (128, 128, 128), lr: float = 2e-4,
                 betas: Sequence[float] = (0.5, 0.9), critic_steps: int = 5,
                 penalty: float = 10.0, one_sided: bool = True,
                 regression: Sequence[Any] = ()) -> None:
        latent = latent or max(features, 4)
        super().__init__(regression=regression, features=features, context=context, latent=latent,
                         generator_hidden=list(generator_hidden), critic_hidden=list(critic_hidden),
                         lr=lr, betas=list(betas), critic_steps=critic_steps, penalty=penalty,
                         one_sided=one_sided)
        self.features, self.context, self.latent = features, context, latent
        self.generator = MLP(latent, features, generator_hidden, context)
        self.critic = MLP(features, 1, critic_hidden, context)
        # The Wasserstein objective is blind to a constant offset of the critic: no output bias.
        self.critic.layers[-1].register_parameter("bias", None)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas = tuple(self.hparams["betas"])
        return [torch.optim.Adam(self.generator.parameters(), lr=self.hparams["lr"], betas=betas),
                torch.optim.Adam(self.critic.parameters(), lr=self.hparams["lr"], betas=betas)]

    def train_step(self, x: Tensor, c: Tensor, optimizers: Sequence[torch.optim.Optimizer],
                   generator: torch.Generator) -> dict[str, float]:
        opt_g, opt_c = optimizers
        fake = self.generate(len(x), c, generator, x).detach()
        alpha = torch.rand(len(x), 1, generator=generator, device=x.device, dtype=x.dtype)
        mix = (alpha * x + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(mix, c).sum(), mix, create_graph=True)
        excess = grad.norm(dim=1) - 1
        penalty = ((excess.clamp_min(0) if self.hparams["one_sided"] else excess) ** 2).mean()
        w_distance = self.critic(x, c).mean() - self.critic(fake, c).mean()
        c_loss = -w_distance + self.hparams["penalty"] * penalty
        self.minimise(c_loss, opt_c)
        losses = {"w": w_distance.item(), "gp": penalty.item()}

        self.updates += 1
        if int(self.updates) % self.hparams["critic_steps"] == 0:
            fake = self.generate(len(x), c, generator, x)
            g_loss = -self.critic(fake, c).mean()
            self.minimise(g_loss + self.regression_loss(fake, c, losses), opt_g)
        return losses
