"""Ensembles in one model file: pairs per bootstrap resample, resume, generation with 'member'."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.generation import Sampling, generate, member_split, sample
from flashgen.models import EnsembleModel, FlashModel, load_model
from flashgen.sources.toys import simulate_toy
from flashgen.training import bootstrap as ens_mod
from flashgen.training import TrainSettings
from flashgen.training.bootstrap import Workers, resample_rows, train_ensemble, work_folder

SETTINGS = dict(preset="camelback", settings=TrainSettings(steps=30, seed=5, device="cpu"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("ens") / "camel.pt"
    table = simulate_toy("camelback", 300, 1)
    model = train_ensemble(table, 4, "flow", out=out, workers=Workers(1), **SETTINGS)
    return out, table, model


def test_one_file_holds_every_member_and_the_work_folder_is_gone(trained) -> None:
    out, table, model = trained
    assert out.is_file() and not work_folder(out).exists()
    loaded = load_model(out)
    assert isinstance(loaded, EnsembleModel) and len(loaded) == 4
    info = loaded.info["ensemble"]
    assert info == {"members": 4, "copies": 2, "resamples": 2, "seed": 5, "train_events": 300,
                    "groups": [0, 0, 1, 1]}
    assert [m.info["bootstrap"]["resample"] for m in loaded.members] == [0, 0, 1, 1]
    with pytest.raises(FlashgenError, match="holds an ensemble of 4 models"):
        FlashModel.load(out)


def test_pairs_share_a_resample_and_differ_in_seed() -> None:
    assert np.array_equal(resample_rows(100, 3, 0), resample_rows(100, 3, 1))
    assert not np.array_equal(resample_rows(100, 3, 1), resample_rows(100, 3, 2))
    rows = resample_rows(1000, 3, 0)
    # a bootstrap resample leaves out ~1/e of the events
    assert abs(1 - len(np.unique(rows)) / 1000 - np.exp(-1)) < 0.03


def test_generation_splits_events_evenly_with_a_member_column(trained, tmp_path) -> None:
    out, _, _ = trained
    model = load_model(out)
    gen = sample(model, 1003, seed=2, chunk_size=250)
    assert gen.names == ["x", "member"] and len(gen) == 1003
    counts = np.bincount(gen["member"])
    assert counts.sum() == 1003 and counts.max() - counts.min() <= 1
    again = sample(load_model(out), 1003, seed=2, chunk_size=250)
    assert np.array_equal(gen["x"], again["x"]) and np.array_equal(gen["member"], again["member"])
    # members are different models: the same chunk seeds give different events
    x = gen["x"]
    assert not np.allclose(np.sort(x[gen["member"] == 0][:200]), np.sort(x[gen["member"] == 1][:200]))
    # chunk 0 begins with member 0's block, made as that model alone makes it from its own seed
    import torch

    from flashgen.generation import generate_columns
    from flashgen.seeds import derive_seed

    n0 = int(member_split(250, 4, 0)[0])
    direct = generate_columns(model.members[0], n0, torch.Generator().manual_seed(derive_seed(2, 0, 0)))
    assert np.array_equal(gen["x"][:n0], direct["x"])
    written = generate(model, tmp_path / "g.parquet", 1003, sampling=Sampling(2, 250, "float64"), quiet=True)
    from flashgen.data import read_table

    table = read_table(written.path)
    assert np.array_equal(table["member"], gen["member"]) and np.array_equal(table["x"], gen["x"])
    assert table.meta["model"]["ensemble"]["groups"] == [0, 0, 1, 1]


def test_member_split_rotates_the_remainder() -> None:
    assert member_split(10, 4, 0).tolist() == [3, 3, 2, 2]
    assert member_split(10, 4, 1).tolist() == [2, 3, 3, 2]
    assert member_split(3, 4, 3).tolist() == [1, 1, 0, 1]
    total = sum(member_split(10, 4, k) for k in range(4))
    assert total.tolist() == [10, 10, 10, 10]


def test_an_interrupted_training_resumes_member_by_member(tmp_path, monkeypatch) -> None:
    table = simulate_toy("camelback", 200, 3)
    out = tmp_path / "e.pt"
    real = ens_mod._train_member

    def failing(task):  # type: ignore[no-untyped-def]
        if task.index == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(ens_mod, "_train_member", failing)
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(table, 4, "flow", out=out, **SETTINGS)
    folder = work_folder(out)
    done = sorted(p.name for p in folder.glob("member_*.pt"))
    assert done == ["member_000.pt", "member_001.pt"] and not out.exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("member_*.pt")}
    trained_now = []
    monkeypatch.setattr(ens_mod, "_train_member", lambda task: trained_now.append(task.index) or real(task))
    with pytest.raises(FlashgenError, match=r"steps=30 \(now 31\)"):
        train_ensemble(table, 4, "flow", out=out, preset="camelback",
                       settings=TrainSettings(steps=31, seed=5, device="cpu"))
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("member_*.pt")} == stamps
    model = train_ensemble(table, 4, "flow", out=out, **SETTINGS)
    assert trained_now == [2, 3] and len(model) == 4 and out.is_file() and not folder.exists()
    # identical to an uninterrupted training
    fresh = train_ensemble(table, 4, "flow", out=tmp_path / "f.pt", **SETTINGS)
    a, b = sample(model, 400, seed=1), sample(fresh, 400, seed=1)
    assert np.array_equal(a["x"], b["x"])


def test_bad_arguments(tmp_path) -> None:
    table = simulate_toy("camelback", 50, 1)
    with pytest.raises(FlashgenError, match="at least 4 members"):
        train_ensemble(table, 3, out=tmp_path / "e.pt")
    with pytest.raises(FlashgenError, match="does not exist"):
        train_ensemble(table, 4, out=tmp_path / "missing" / "e.pt")
    with pytest.raises(FlashgenError, match="at least 2 members"):
        EnsembleModel([])


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path) -> None:
    pytest.importorskip("dask.distributed")
    table = simulate_toy("camelback", 50, 1)
    with pytest.raises(FlashgenError, match="cannot connect to the Dask scheduler"):
        train_ensemble(table, 4, "flow", out=tmp_path / "e.pt", workers=Workers(scheduler="tcp://127.0.0.1:9"),
                       **SETTINGS)


def test_a_member_of_another_ensemble_is_refused_not_packed(tmp_path) -> None:
    """A member file trained on another table, left in the work folder, is never packed."""
    import shutil

    table, other = simulate_toy("camelback", 200, 3), simulate_toy("camelback", 200, 4)
    foreign = tmp_path / "other.pt"
    real = ens_mod._train_member

    def stop_after_first(task):  # type: ignore[no-untyped-def]
        if task.index == 1:
            raise KeyboardInterrupt
        return real(task)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ens_mod, "_train_member", stop_after_first)
        with pytest.raises(KeyboardInterrupt):
            train_ensemble(other, 4, "flow", out=foreign, **SETTINGS)
        with pytest.raises(KeyboardInterrupt):
            train_ensemble(table, 4, "flow", out=tmp_path / "e.pt", **SETTINGS)
    # the foreign member 0 (other table) replaces this ensemble's member 0
    shutil.copy(work_folder(foreign) / "member_000.pt", work_folder(tmp_path / "e.pt") / "member_000.pt")
    with pytest.raises(FlashgenError, match="is not member 0 of this ensemble"):
        train_ensemble(table, 4, "flow", out=tmp_path / "e.pt", **SETTINGS)
    assert not (tmp_path / "e.pt").exists()
