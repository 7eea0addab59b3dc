"""Detection-efficiency classifier: p(detected | conditions).

Combined with a conditional kinematics model (trained on detected rows only), it reproduces a
detector response that loses particles: generation draws ``detected ~ Bernoulli(p(c))`` per
condition row and samples kinematics only for detected ones. Trained with binary cross-entropy,
whose minimiser is the true conditional probability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig, setting
from .interface import MLP, Trainable

__all__ = ["EfficiencyClassifier", "EfficiencyConfig"]


@dataclass(frozen=True)
class EfficiencyConfig(ModelConfig):
    """Settings of :class:`EfficiencyClassifier`.

    Arguments:
        hidden: hidden layer sizes.
        lr: Adam learning rate.
    """

    family = "efficiency"
    hidden: tuple[int, ...] = setting((64, 64, 64), minimum=1)
    lr: float = setting(2e-3, above=0)


class EfficiencyClassifier(Trainable):
    """MLP classifier of a 0/1 label given conditions.

    Arguments:
        context: number of condition columns.
        config: the settings (:class:`EfficiencyConfig`, a mapping of some of them, or ``None``:
            the defaults); ``settings`` override single ones.
    """

    config_class = EfficiencyConfig
    shape_names = ("context",)
    config: EfficiencyConfig

    def __init__(self, context: int, config: EfficiencyConfig | Mapping[str, Any] | None = None,
                 **settings: Any) -> None:
        super().__init__(self.settings(config, settings), context=context)
        self.net = MLP(context, 1, self.config.hidden, activation=nn.SiLU)

    def logit(self, c: Tensor) -> Tensor:
        """Log-odds of detection, shape ``(batch,)``."""
        return self.net(c).squeeze(-1)

    @torch.no_grad()
    def probability(self, c: Tensor) -> Tensor:
        """p(detected | c), shape ``(batch,)``."""
        return torch.sigmoid(self.logit(c))

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.parameters(), lr=self.config.lr)]

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
