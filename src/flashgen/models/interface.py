"""The interface every trainable network implements, and the MLP building block.

The one training loop (:class:`flashgen.training.Trainer`) only calls
:meth:`Trainable.configure_optimizers`, :meth:`Trainable.train_step` and
:meth:`Trainable.validation_loss`; generative models add :meth:`GenerativeModel.sample`. Each model
file holds only what is its own: architecture, losses and its optimisation step.

All tensors are in model space: standardised features ``x`` of shape ``(batch, features)`` and
standardised conditions ``c`` of shape ``(batch, context)`` (``context = 0`` for unconditional).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar

import torch
from torch import Tensor, nn

from ..errors import FlashgenError
from .config import ModelConfig

__all__ = ["ACTIVATIONS", "MODELS", "GenerativeModel", "LatentGenerator", "MLP", "ModelConfig", "Trainable",
           "activation_class", "get_model", "register"]

MODELS: dict[str, type[GenerativeModel]] = {}
"""Registry of generative model families by name, filled by :func:`register`. Every list of
models (command-line choices, amplification trainers, report labels, the contract test) is
derived from it."""

M = TypeVar("M", bound="type[GenerativeModel]")


def register(name: str) -> Callable[[M], M]:
    """Class decorator: add a :class:`GenerativeModel` to :data:`MODELS` under ``name``; its
    ``config_class`` (a :class:`ModelConfig` of its own) names its settings."""

    def add(cls: M) -> M:
        if name in MODELS:
            raise FlashgenError(f"a model named '{name}' is already registered")
        if cls.config_class is ModelConfig or not issubclass(cls.config_class, ModelConfig):
            raise FlashgenError(f"model '{name}' declares no config_class (a frozen ModelConfig "
                                "dataclass of its settings)")
        cls.name = name
        if not cls.config_class.family:
            cls.config_class.family = name
        MODELS[name] = cls
        return cls

    return add


def get_model(name: str) -> type[GenerativeModel]:
    """The model class registered as ``name``; a clear error naming the choices otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise FlashgenError(f"unknown model '{name}'; choose from {', '.join(sorted(MODELS))}") from None


class Trainable(nn.Module, ABC):
    """A network with its own loss and optimisation step, built from its sizes (``features``,
    ``context``: :attr:`shape_names`) and its typed settings (:attr:`config_class`).

    Subclasses take ``(*sizes, config=None, **settings)`` and call ``super().__init__(config,
    **sizes)`` with the config from :meth:`settings`, so the model can be rebuilt from
    :attr:`hparams` when a model file is loaded (:meth:`from_hparams`).
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    shape_names: ClassVar[tuple[str, ...]] = ("features", "context")

    def __init__(self, config: ModelConfig, **sizes: int) -> None:
        super().__init__()
        self.config = config
        self.sizes: dict[str, int] = dict(sizes)

    @classmethod
    def settings(cls, config: ModelConfig | Mapping[str, Any] | None,
                 overrides: Mapping[str, Any] | None = None) -> Any:
        """The model's config: ``config`` (or the defaults) with ``overrides`` (see
        :meth:`ModelConfig.build`)."""
        return cls.config_class.build(config, overrides)

    @property
    def hparams(self) -> dict[str, Any]:
        """Sizes and settings as plain values: what the model file stores."""
        return {**self.sizes, **self.config.plain()}

    @classmethod
    def from_hparams(cls, hparams: Mapping[str, Any]) -> Self:
        """The (untrained) model of saved :attr:`hparams`, from this or an older flashgen."""
        sizes = {k: v for k, v in hparams.items() if k in cls.shape_names}
        rest = {k: v for k, v in hparams.items() if k not in cls.shape_names}
        return cls(**sizes, config=cls.config_class.build(rest))

    @abstractmethod
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimisers this model's :meth:`train_step` uses, in a fixed order."""

    @abstractmethod
    def train_step(self, x: Tensor, c: Tensor, optimizers: Sequence[torch.optim.Optimizer],
                   generator: torch.Generator) -> dict[str, float]:
        """One optimisation step on a batch; returns the losses to display.

        Arguments:
            x: features ``(batch, features)``.
            c: conditions ``(batch, context)``.
            optimizers: as returned by :meth:`configure_optimizers`.
            generator: the only source of randomness (latent noise, interpolation weights), so
                that a resumed run continues exactly.
        """

    def validation_loss(self, x: Tensor, c: Tensor) -> float | None:
        """A loss on held-out data, or ``None`` when the model has none that is meaningful."""
        return None

    def compile_steps(self, enable: bool) -> bool:
        """Run the following :meth:`train_step` calls through compiled kernels (``torch.compile``)
        where the model has them; returns whether it does. The loop asks for it when a training
        is long enough to pay back the compile time (:class:`~flashgen.training.TrainConfig`)."""
        return False

    @staticmethod
    def minimise(loss: Tensor, optimizer: torch.optim.Optimizer,
                 clip: tuple[nn.Module, float] | None = None) -> None:
        """One gradient step of ``optimizer`` on ``loss`` (optionally clipping a module's gradient norm)."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(clip[0].parameters(), clip[1], foreach=True)
        optimizer.step()


class GenerativeModel(Trainable):
    """A trainable model that samples features given conditions.

    Subclasses are registered with :func:`register`; they set :attr:`config_class` and
    :attr:`small`, the settings of a small instance that trains in seconds (the contract test
    and quick examples use it).
    """

    name: ClassVar[str] = ""
    small: ClassVar[ModelConfig]

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring, as a phrase (``"conditional neural spline flow
        ..."``): what the model is, for help texts."""
        line = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
        first = line.split(" ", 1)[0]
        return line if first.isupper() else line[:1].lower() + line[1:]

    @abstractmethod
    def sample(self, n: int, c: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, features)``; with conditions ``c`` of shape ``(n, context)``."""


class LatentGenerator(GenerativeModel):
    """A generative model that maps Gaussian latent noise (and the condition) through
    ``self.generator``, an :class:`MLP`; subclasses set ``self.latent`` and ``self.generator``.

    Arguments:
        config: the model's settings.
        regression: physics regression terms (:class:`flashgen.models.gan.RegressionTerm`) that
            the generator loss adds; built by the trainer from the data, not saved in
            :attr:`hparams` (a loaded model only samples).
        sizes: ``features`` and ``context``.
    """

    latent: int
    generator: MLP

    def __init__(self, config: ModelConfig, regression: Sequence[Any] = (), **sizes: int) -> None:
        super().__init__(config, **sizes)
        self.regression: list[Any] = list(regression)

    def regression_loss(self, fake: Tensor, c: Tensor, losses: dict[str, float]) -> Tensor | float:
        """Sum of the regression terms on a generated batch; records each in ``losses``."""
        total: Tensor | float = 0.0
        for term in self.regression:
            value = term.loss(fake, c)
            losses[term.name] = value.item()
            total = total + value
        return total

    uniform_latent: bool = False
    """Latent numbers uniform in [-1, 1] instead of standard normal."""

    def _noise(self, n: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.uniform_latent:
            u = torch.rand(n, self.latent, generator=generator, device=like.device, dtype=like.dtype)
            return 2 * u - 1
        return torch.randn(n, self.latent, generator=generator, device=like.device, dtype=like.dtype)

    def generate(self, n: int, c: Tensor | None, generator: torch.Generator | None,
                 like: Tensor) -> Tensor:
        """``n`` generated points ``(n, features)`` (differentiable): latent noise through
        ``self.generator``; ``generator`` also draws any dropout masks."""
        return self.generator(self._noise(n, like, generator), c, generator)

    @torch.no_grad()
    def sample(self, n: int, c: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        return self.generate(n, c, generator, self.generator.layers[0].weight)


ACTIVATIONS: dict[str, type[nn.Module]] = {"leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "relu": nn.ReLU}
"""Hidden activations by name (leaky ReLU slope 0.01, torch's default)."""


def activation_class(name: str) -> type[nn.Module]:
    """The activation named ``name``; a clear error naming the choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; choose from {', '.join(ACTIVATIONS)}") from None


class MLP(nn.Module):
    """Fully connected network; with ``context`` the condition is fed to every layer.

    Arguments:
        in_features: input size.
        out_features: output size.
        hidden: sizes of the hidden layers.
        context: size of a condition vector concatenated to the input of every layer
            (the single-electron cWGAN-GP design); 0 for none.
        activation: hidden activation class.
        dropout: probability of zeroing each hidden unit (after its activation) while training.
        sampling_dropout: keep the dropout active in evaluation mode too (the amplification
            paper's generator samples with it).

    Dropout masks are drawn from the ``generator`` passed to :meth:`forward`, so that training
    and sampling stay reproducible.
    """

    def __init__(self, in_features: int, out_features: int, hidden: Sequence[int],
                 context: int = 0, activation: type[nn.Module] = nn.LeakyReLU,
                 dropout: float = 0.0, sampling_dropout: bool = False) -> None:
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        sizes = [in_features, *hidden, out_features]
        self.context = context
        self.layers = nn.ModuleList(nn.Linear(a + context, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation()
        self.dropout, self.sampling_dropout = dropout, sampling_dropout

    def _drop(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        if not self.dropout or not (self.training or self.sampling_dropout):
            return x
        keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= self.dropout
        return x * keep / (1 - self.dropout)

    def forward(self, x: Tensor, c: Tensor | None = None,
                generator: torch.Generator | None = None) -> Tensor:
        for i, layer in enumerate(self.layers):
            if self.context:
                x = torch.cat([x, c], dim=-1)
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self._drop(self.activation(x), generator)
        return x
