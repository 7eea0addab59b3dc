"""Detection-efficiency classifier: p(detected | conditions).

Combined with a conditional kinematics model (trained on detected rows only), it reproduces a
detector response that loses particles: generation draws ``detected ~ Bernoulli(p(c))`` per
condition row and samples kinematics only for detected ones. Trained with binary cross-entropy,
whose minimiser is the true conditional probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .interface import MLP, Trainable

__all__ = ["EfficiencyClassifier"]


class EfficiencyClassifier(Trainable):
    """MLP classifier of a 0/1 label given conditions.

    Arguments:
        context: number of condition columns.
        hidden: hidden layer sizes.
        lr: Adam learning rate.
    """

    def __init__(self, context: int, hidden: Sequence[int] = (64, 64, 64), lr: float = 2e-3) -> None:
        super().__init__(context=context, hidden=list(hidden), lr=lr)
        self.net = MLP(context, 1, hidden, activation=nn.SiLU)

    def logit(self, c: Tensor) -> Tensor:
        """Log-odds of detection, shape ``(batch,)``."""
        return self.net(c).squeeze(-1)

    @torch.no_grad()
    def probability(self, c: Tensor) -> Tensor:
        """p(detected | c), shape ``(batch,)``."""
        return torch.sigmoid(self.logit(c))

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])]

    def loss(self, label: Tensor, c: Tensor) -> Tensor:
        """Binary cross-entropy of ``label`` ``(batch, 1)`` given ``c``."""
        return F.binary_cross_entropy_with_logits(self.logit(c), label.squeeze(-1))

    def train_step(self, x: Tensor, c: Tensor, optimizers: Sequence[torch.optim.Optimizer],
                   generator: torch.Generator) -> dict[str, float]:
        (opt,) = optimizers
        loss = self.loss(x, c)
        self.minimise(loss, opt)
        return {"bce": loss.item()}

    @torch.no_grad()
    def validation_loss(self, x: Tensor, c: Tensor) -> float | None:
        return float(self.loss(x, c))
