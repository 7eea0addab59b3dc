"""The model registry: a new model is one file that registers itself; every list derives from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flashgen.data import EventTable
from flashgen.errors import FlashgenError
from flashgen.models import MODELS, GenerativeModel, get_model, register
from flashgen.training import train
from flashgen.training.fit import model_hyperparameters


def test_registry_holds_every_family_with_a_small_instance() -> None:
    assert {"flow", "gan", "wgan-gp"} <= set(MODELS)
    for name, cls in MODELS.items():
        assert cls.name == name and issubclass(cls, GenerativeModel) and cls.small
        assert cls.summary() and "\n" not in cls.summary()
    with pytest.raises(FlashgenError, match="unknown model 'vae'; choose from flow"):
        get_model("vae")


def test_lists_of_models_derive_from_the_registry() -> None:
    from flashgen.cli.main import build_parser
    from flashgen.studies.trainers import generator_names

    @register("test-mean")
    class Mean(GenerativeModel):
        """Throwaway model: the training mean plus unit noise."""

        small: dict = {}

        def __init__(self, features: int, context: int = 0, lr: float = 0.1) -> None:
            super().__init__(features=features, context=context, lr=lr)
            self.mean = torch.nn.Parameter(torch.zeros(features))

        def configure_optimizers(self):
            return [torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])]

        def train_step(self, x, c, optimizers, generator):
            loss = ((x - self.mean) ** 2).mean()
            self.minimise(loss, optimizers[0])
            return {"mse": loss.item()}

        def sample(self, n, c=None, generator=None):
            noise = torch.randn(n, len(self.mean), generator=generator)
            return self.mean.detach() + noise

    try:
        assert "test-mean" in generator_names()
        parser = build_parser()
        args = parser.parse_args(["train", "--data", "x.parquet", "--model", "test-mean", "--out", "m.pt"])
        assert args.model == "test-mean"
        table = EventTable({"a": np.random.default_rng(0).normal(3.0, 1.0, 400)})
        model = train(table, "test-mean", steps=200, batch_size=64, snapshot_every=100, seed=1)
        assert float(model.network.mean.detach()) == pytest.approx(0.0, abs=0.2)  # standardised space
        with pytest.raises(FlashgenError, match="already registered"):
            register("test-mean")(Mean)
    finally:
        MODELS.pop("test-mean", None)


def test_hyperparameters_are_checked_against_the_constructor() -> None:
    flow = get_model("flow")
    assert model_hyperparameters(flow, {"transforms": 2}) == {"transforms": 2}
    with pytest.raises(FlashgenError, match="unknown bogus; known: transforms, hidden"):
        model_hyperparameters(flow, {"bogus": 1})
    with pytest.raises(FlashgenError, match="unknown regression"):
        model_hyperparameters(get_model("gan"), {"regression": []})  # set by train(), not users
