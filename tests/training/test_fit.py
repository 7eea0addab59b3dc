"""train(): splits, explicit validation sets, presets."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.data import EventTable
from flashgen.errors import FlashgenError
from flashgen.training import TrainSettings, train


def _table(rng: np.random.Generator, n: int) -> EventTable:
    return EventTable({"a": rng.normal(0, 1, n), "b": rng.normal(2, 1, n)})


def test_seeded_split_holds_out_the_requested_fraction(rng) -> None:
    model = train(_table(rng, 500), "flow",
                  settings=TrainSettings(steps=5, batch_size=32, snapshot_every=5, val_fraction=0.3),
                  config={"transforms": 1, "hidden": (8,)})
    assert (model.info["train_events"], model.info["val_events"]) == (350, 150)


def test_explicit_validation_set_is_used_for_selection_only(rng) -> None:
    table, validation = _table(rng, 400), _table(rng, 123)
    table.meta["source"], validation.meta["source"] = "train.parquet", "other.parquet"
    model = train(table, "gan", settings=TrainSettings(steps=10, batch_size=32, snapshot_every=5),
                  validation=validation, config={"generator_hidden": (8,), "discriminator_hidden": (8,)})
    assert (model.info["train_events"], model.info["val_events"]) == (400, 123)
    assert model.info["source"]["source"] == "train.parquet"  # the training table's, not merged
    assert all(h["score"] is not None for h in model.info["result"]["history"])


def test_selection_by_held_out_loss(rng) -> None:
    model = train(_table(rng, 600), "flow",
                  settings=TrainSettings(steps=60, batch_size=64, snapshot_every=20, val_fraction=0.25,
                                         selection=["loss"], seed=3),
                  config={"transforms": 1, "hidden": (8,)})
    history = model.info["result"]["history"]
    scores = [h["score"] for h in history]
    assert [h["step"] for h in history] == [20, 40, 60]
    assert model.info["result"]["best_score"] == min(scores)
    # held-out NLL of two standardised Gaussian features, about 2 x 1.42 nats per event; a KS sum
    # of two features could not exceed 2
    assert 2.2 < min(scores) < 3.6


def test_split_is_validated_resolved_once_and_seeded() -> None:
    from flashgen.sources.registry import get_preset
    from flashgen.training import Split

    assert Split.resolve(None, None).val_fraction == 0.2
    assert Split.resolve(None, get_preset("camelback")).val_fraction == 0.0
    assert Split.resolve(0.5, get_preset("camelback")).val_fraction == 0.5
    with pytest.raises(FlashgenError, match=r"validation fraction must be in \[0, 1\)"):
        Split(1.0)
    rows = np.arange(10, 30)
    kept, held = Split(0.25).rows(rows, np.random.default_rng(3))
    again = Split(0.25).rows(rows, np.random.default_rng(3))
    assert len(held) == 5 and len(kept) == 15 and set(kept) | set(held) == set(rows)
    np.testing.assert_array_equal(kept, again[0])


def test_the_compile_setting_reaches_the_loop_and_is_checked_upfront() -> None:
    from flashgen.sources.registry import get_preset

    assert TrainSettings().loop(get_preset("zmumu"), "flow").compile == "off"
    assert TrainSettings(compile="auto").loop(get_preset("zmumu"), "flow").compile == "auto"
    with pytest.raises(FlashgenError, match="compile='fast': must be auto, on or off"):
        TrainSettings(compile="fast")
