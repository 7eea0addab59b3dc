"""The model registry: a new model is one file that registers itself; every list derives from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from flashgen.data import EventTable
from flashgen.errors import FlashgenError
from flashgen.models import MODELS, GenerativeModel, get_model, register
from flashgen.models.config import ModelConfig, setting
from flashgen.training import TrainSettings, train
from flashgen.training.fit import model_config


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

    @dataclass(frozen=True)
    class MeanConfig(ModelConfig):
        """Settings of the throwaway model."""

        lr: float = setting(0.1, above=0)

    @register("test-mean")
    class Mean(GenerativeModel):
        """Throwaway model: the training mean plus unit noise."""

        config_class = MeanConfig
        small = MeanConfig()

        def __init__(self, features: int, context: int = 0, config=None, **settings) -> None:
            super().__init__(self.settings(config, settings), features=features, context=context)
            self.mean = torch.nn.Parameter(torch.zeros(features))

        def configure_optimizers(self):
            return [torch.optim.SGD(self.parameters(), lr=self.config.lr)]

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
        model = train(table, "test-mean", settings=TrainSettings(steps=200, batch_size=64, snapshot_every=100,
                                                                  seed=1))
        assert float(model.network.mean.detach()) == pytest.approx(0.0, abs=0.2)  # standardised space
        assert train(table, "test-mean", settings=TrainSettings(steps=2), config={"lr": "0.5"}).network.config.lr == 0.5
        with pytest.raises(FlashgenError, match="bad test-mean setting lr=-1: must be a finite number > 0"):
            train(table, "test-mean", config={"lr": -1})
        with pytest.raises(FlashgenError, match="already registered"):
            register("test-mean")(Mean)
    finally:
        MODELS.pop("test-mean", None)


def test_a_model_without_a_config_class_is_refused() -> None:
    class Bare(GenerativeModel):
        """No settings declared."""

    with pytest.raises(FlashgenError, match="declares no config_class"):
        register("test-bare")(Bare)
    assert "test-bare" not in MODELS


def test_settings_are_checked_against_the_config() -> None:
    flow = get_model("flow")
    assert model_config("flow", None, {"transforms": 2}) == flow.config_class(transforms=2)
    assert model_config("flow", "camelback", {"bins": "4"}).transforms == 1  # the preset's, then ours
    with pytest.raises(FlashgenError, match="unknown flow setting 'bogus'; known: transforms, hidden"):
        model_config("flow", None, {"bogus": 1})
    with pytest.raises(FlashgenError, match="unknown gan setting 'regression'"):
        model_config("gan", None, {"regression": []})  # set by train(), not users
