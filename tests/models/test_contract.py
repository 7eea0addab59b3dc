"""One contract for every model: typed settings, shapes, finite losses, gradients everywhere,
save/load, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flashgen.data import EventTable
from flashgen.errors import FlashgenError
from flashgen.generation import sample
from flashgen.models import MODELS, EfficiencyClassifier, FlashModel
from flashgen.models.config import ModelConfig
from flashgen.training import Columns, TrainSettings, train

FEATURES, CONTEXT, BATCH = 3, 2, 64
COLUMNS = Columns(["a", "b", "k"], ["cond"])
SHORT = TrainSettings(steps=30, batch_size=64, snapshot_every=10, seed=3)


def _net(kind: str, context: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS[kind](features=FEATURES, context=context, config=MODELS[kind].small)


@pytest.mark.parametrize("context", [0, CONTEXT], ids=["unconditional", "conditional"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_shapes_losses_and_gradients(kind: str, context: int) -> None:
    net = _net(kind, context)
    x = torch.randn(BATCH, FEATURES)
    c = torch.randn(BATCH, context)
    opts = net.configure_optimizers()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    gen = torch.Generator().manual_seed(1)
    for _ in range(net.hparams.get("critic_steps", 1)):
        losses = net.train_step(x, c, opts, gen)
    assert losses and all(np.isfinite(v) for v in losses.values())
    unchanged = [n for n, p in net.named_parameters() if torch.equal(p, before[n])]
    assert not unchanged, f"no gradient reached {unchanged}"
    s = net.sample(10, c[:10] if context else None, torch.Generator().manual_seed(2))
    assert s.shape == (10, FEATURES) and bool(torch.isfinite(s).all())


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_sampling_is_seeded(kind: str) -> None:
    net = _net(kind, CONTEXT).eval()
    c = torch.randn(20, CONTEXT)
    a = net.sample(20, c, torch.Generator().manual_seed(5))
    b = net.sample(20, c, torch.Generator().manual_seed(5))
    d = net.sample(20, c, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, d)


def test_efficiency_classifier_learns_a_known_probability() -> None:
    torch.manual_seed(0)
    c = torch.rand(20_000, 1) * 2 - 1
    p = torch.where(c[:, 0] > 0, 0.8, 0.3)
    y = (torch.rand(20_000) < p).float().unsqueeze(1)
    net = EfficiencyClassifier(1, hidden=(16, 16), lr=1e-2)
    opts = net.configure_optimizers()
    gen = torch.Generator().manual_seed(0)
    for _ in range(600):
        idx = torch.randint(20_000, (512,), generator=gen)
        net.train_step(y[idx], c[idx], opts, gen)
    prob = net.probability(torch.tensor([[-0.5], [0.5]]))
    assert prob.tolist() == pytest.approx([0.3, 0.8], abs=0.04)


def _table(rng: np.random.Generator, n: int = 600) -> EventTable:
    c = rng.uniform(-1, 1, n)
    return EventTable({"a": rng.normal(c, 0.5), "b": rng.exponential(1.0, n) + c,
                       "k": rng.poisson(3, n), "cond": c})


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_model_file_round_trip_and_determinism(kind: str, rng, tmp_path) -> None:
    table = _table(rng)
    model = train(table, kind, columns=COLUMNS, settings=SHORT, config=MODELS[kind].small)
    assert model.info["result"]["best_step"] in (10, 20, 30)
    conditions = table.select(["cond"]).take(slice(0, 50))
    first = sample(model, 0, seed=7, conditions=conditions)
    path = model.save(tmp_path / "m.pt")
    loaded = FlashModel.load(path)
    again = sample(loaded, 0, seed=7, conditions=conditions)
    assert first.names == ["cond", "a", "b", "k"]
    for name in first.names:
        np.testing.assert_array_equal(first[name], again[name])
    assert again["k"].dtype == table["k"].dtype and (again["k"] >= 0).all()
    np.testing.assert_array_equal(again["cond"], conditions["cond"])
    other = sample(loaded, 0, seed=8, conditions=conditions)
    assert not np.array_equal(other["a"], first["a"])
    # the same seed trains the same model
    twin = train(table, kind, columns=COLUMNS, settings=SHORT, config=MODELS[kind].small)
    np.testing.assert_array_equal(sample(twin, 0, seed=7, conditions=conditions)["a"], first["a"])


def test_conditional_model_needs_its_condition_columns(rng) -> None:
    table = _table(rng)
    model = train(table, "flow", columns=Columns(["a"], ["cond"]),
                  settings=TrainSettings(steps=5, batch_size=32, snapshot_every=5), config=MODELS["flow"].small)
    with pytest.raises(FlashgenError, match="conditional"):
        sample(model, 10)
    with pytest.raises(FlashgenError, match="cond"):
        sample(model, 0, conditions=table.select(["a"]))


def test_corrupt_and_foreign_files_are_clear_errors(tmp_path, rng) -> None:
    model = train(_table(rng), "gan", columns=Columns(["a", "b"]),
                  settings=TrainSettings(steps=5, batch_size=32, snapshot_every=5), config=MODELS["gan"].small)
    path = model.save(tmp_path / "m.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(FlashgenError, match="not a readable flashgen model"):
        FlashModel.load(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(FlashgenError, match="not a flashgen model"):
        FlashModel.load(tmp_path / "foreign.pt")
    with pytest.raises(FlashgenError, match="does not exist"):
        FlashModel.load(tmp_path / "missing.pt")


def test_bad_options_are_clear_errors(rng) -> None:
    table = _table(rng)
    with pytest.raises(FlashgenError, match="unknown model"):
        train(table, "vae")
    with pytest.raises(FlashgenError, match="unknown column"):
        train(table, "flow", columns=Columns(["nope"]))
    with pytest.raises(FlashgenError, match="unknown flow setting 'bogus'"):
        train(table, "flow", columns=Columns(["a"]), settings=TrainSettings(steps=1), config={"bogus": 3})
    with pytest.raises(FlashgenError, match="both feature and condition"):
        train(table, "flow", columns=Columns(["a"], ["a"]))
    with pytest.raises(FlashgenError, match="bad training setting steps=0"):
        train(table, "flow", settings=TrainSettings(steps=0))


# ---------------------------------------------------------------------------------------------
# Typed settings: every family declares a frozen config dataclass that the registry knows


def _bad_value(config: ModelConfig) -> tuple[str, object]:
    """A value no setting of ``config`` allows: a text for a number, a number for a choice."""
    for name, value in config.plain().items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return name, "abc"
    raise AssertionError(f"{type(config).__name__} has no numeric setting")


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_settings_are_a_frozen_validated_config(kind: str) -> None:
    cls = MODELS[kind]
    config_class = cls.config_class
    assert issubclass(config_class, ModelConfig) and config_class.family == kind
    defaults = config_class()
    net = cls(features=FEATURES, context=CONTEXT)  # the defaults build a model
    assert net.config == cls(FEATURES, CONTEXT, config=defaults).config
    with pytest.raises(AttributeError):
        defaults.lr = 1.0  # type: ignore[misc]  # frozen
    with pytest.raises(FlashgenError, match=f"unknown {kind} setting 'bogus'; known: "):
        config_class.build({"bogus": 1})
    name, bad = _bad_value(defaults)
    with pytest.raises(FlashgenError, match=f"bad {kind} setting {name}={bad}: must be "):
        config_class.build({name: bad})
    for number in ("nan", "inf", float("nan"), -1):
        with pytest.raises(FlashgenError, match=f"bad {kind} setting lr="):
            config_class.build({"lr": number})
    # text (flashgen train --set) parses into the field types
    assert config_class.build({"lr": "0.5"}).lr == 0.5
    assert config_class.build(cls.small.plain()) == cls.small  # lists from a model file


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_config_round_trips_through_the_model_file(kind: str, rng, tmp_path) -> None:
    model = train(_table(rng), kind, columns=Columns(["a", "b"]),
                  settings=TrainSettings(steps=2, batch_size=32, snapshot_every=2), config=MODELS[kind].small)
    loaded = FlashModel.load(model.save(tmp_path / "m.pt"))
    assert type(loaded.network.config) is MODELS[kind].config_class
    assert loaded.network.config == model.network.config
    assert loaded.network.hparams == model.network.hparams


def test_an_older_model_file_with_plain_constructor_arguments_loads(rng, tmp_path) -> None:
    """Files written before the typed configs stored the constructor arguments as a dict with
    lists; they load through the config."""
    model = train(_table(rng), "flow", columns=Columns(["a", "b"]),
                  settings=TrainSettings(steps=2, batch_size=32, snapshot_every=2), config=MODELS["flow"].small)
    payload = model.payload()
    payload["hparams"] = {"features": 2, "context": 0, "transforms": 2, "hidden": [16, 16], "bins": 4,
                          "coupling": True, "lr": 0.001, "weight_decay": 0.0}
    torch.save(payload, tmp_path / "old.pt")
    loaded = FlashModel.load(tmp_path / "old.pt")
    assert loaded.network.config == MODELS["flow"].small
    payload["hparams"]["bins"] = 0
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(FlashgenError, match="damaged or inconsistent.*bad flow setting bins=0"):
        FlashModel.load(tmp_path / "bad.pt")


def test_every_preset_holds_valid_settings_of_known_families() -> None:
    from flashgen.models.efficiency import EfficiencyConfig
    from flashgen.sources.registry import PRESETS
    from flashgen.training import TrainConfig

    for preset in PRESETS.values():
        for family, config in preset.hparams.items():
            expected = EfficiencyConfig if family == "efficiency" else MODELS[family].config_class
            assert isinstance(config, expected), (preset.name, family)
        for family, values in preset.train.items():
            assert family == "efficiency" or family in MODELS, (preset.name, family)
            TrainConfig.from_mapping(values)  # known names, valid values
