"""Garbage never passes as a result (issue 27): an existing output is replaced only with --force,
a file of another kind never is, a resumable output is resumed (or left as it is when finished),
a failed sharded run leaves no manifest of its own, and a sharded dataset counts its events
beyond the model's training range as a single file does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from flashgen.data import SIMULATED_DATASET_MANIFEST, read_table
from flashgen.errors import FlashgenError
from flashgen.models import FlashModel
from flashgen.sharded import RUN_FILE

from .helpers import assert_user_error, run


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from flashgen.cli.main import main

    d = tmp_path_factory.mktemp("outputs")
    table, model = d / "r.parquet", d / "m.pt"
    assert main(["simulate", "ring", "--events", "400", "--seed", "2", "--out", str(table), "-q"]) == 0
    assert main(["train", "--data", str(table), "--model", "flow", "--steps", "20", "--set", "transforms=1",
                 "--set", "hidden=8,8", "--out", str(model), "-q"]) == 0
    return {"table": table, "model": model}


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- 1. --force


def test_an_existing_table_is_replaced_only_with_force(capsys, tmp_path: Path, made) -> None:
    out = tmp_path / "c.parquet"
    assert run(capsys, "simulate", "camelback", "-n", 50, "--seed", 1, "-o", out, "-q")[0] == 0
    before = _files(tmp_path)
    for argv in (["simulate", "camelback", "-n", 80, "--seed", 2], ["simulate", "ring", "-n", 80],
                 ["generate", "--model", made["model"], "-n", 80]):
        assert_user_error(capsys, *argv, "-o", out, match=f"{out} exists; pass --force to replace it")
        assert _files(tmp_path) == before
    assert run(capsys, "simulate", "camelback", "-n", 80, "--seed", 2, "-o", out, "-q", "--force")[0] == 0
    assert len(read_table(out)) == 80
    assert run(capsys, "generate", "--model", made["model"], "-n", 70, "-o", out, "-q", "--force")[0] == 0
    assert len(read_table(out)) == 70 and read_table(out).names == ["x", "y"]
    assert sorted(_files(tmp_path)) == ["c.parquet"]


def test_a_file_of_another_kind_is_never_replaced_not_even_with_force(capsys, tmp_path: Path, made) -> None:
    model_bytes, table_bytes = made["model"].read_bytes(), made["table"].read_bytes()
    (tmp_path / "model.parquet").write_bytes(model_bytes)
    (tmp_path / "json.root").write_text('{"mine": 1}\n')
    (tmp_path / "notes.pq").write_text("mine")
    (tmp_path / "table.pt").write_bytes(table_bytes)
    (tmp_path / "model.json").write_bytes(model_bytes)
    (tmp_path / "v").mkdir()
    before = _files(tmp_path)
    cases = [
        (["simulate", "camelback", "-n", 10, "-o", tmp_path / "model.parquet"], "is a model file, not an event table"),
        (["generate", "--model", made["model"], "-n", 10, "-o", tmp_path / "json.root"],
         "is a JSON file, not an event table"),
        (["simulate", "ring", "-n", 10, "-o", tmp_path / "notes.pq"],
         "is a file flashgen does not write, not an event table"),
        (["train", "--data", made["table"], "-m", "flow", "--steps", 2, "-o", tmp_path / "table.pt"],
         "is an event table, not a model file"),
        (["worth", "--generated", made["table"], "--observable", "x", "--train-events", 100,
          "-o", tmp_path / "model.json"], "is a model file, not a JSON file"),
        (["bench", "--model", made["model"], "-n", 100, "-o", tmp_path / "model.json"],
         "is a model file, not a JSON file"),
    ]
    for argv, match in cases:
        assert_user_error(capsys, *argv, "--force", match=match + ": it is never replaced")
        assert _files(tmp_path) == before
    # a model file is never named like a table or JSON, so that no reader takes one for the other
    assert_user_error(capsys, "train", "--data", made["table"], "-m", "flow", "--steps", 2,
                      "-o", tmp_path / "new.parquet", match="a model file is not a table or JSON")
    assert _files(tmp_path) == before and not (tmp_path / "new.parquet").exists()


def test_train_needs_force_and_resume_reports_a_finished_model(capsys, tmp_path: Path, made) -> None:
    out = tmp_path / "m.pt"
    shutil.copy(made["model"], out)
    before = out.read_bytes()
    argv = ["train", "--data", made["table"], "-m", "flow", "--steps", 20, "--set", "transforms=1",
            "--set", "hidden=8,8", "--seed", 3, "-o", out]
    assert_user_error(capsys, *argv, match=f"{out} exists; pass --force to replace it")
    assert out.read_bytes() == before and sorted(_files(tmp_path)) == ["m.pt"]  # no checkpoint either
    code, stdout, _ = run(capsys, *argv, "--resume")
    assert code == 0 and "is already trained" in stdout and out.read_bytes() == before
    assert run(capsys, *argv, "--force", "-q")[0] == 0
    assert out.read_bytes() != before and FlashModel.load(out).info["result"]["steps"] == 20
    assert sorted(_files(tmp_path)) == ["m.pt"]


def test_validate_replaces_an_earlier_report_only_with_force(capsys, tmp_path: Path, made) -> None:
    out = tmp_path / "v"
    argv = ["validate", "-r", made["table"], "-g", made["table"], "-o", out, "--repeats", 2, "-q"]
    assert run(capsys, *argv)[0] == 0
    before = _files(out)
    assert_user_error(capsys, *argv, match=f"{out} holds an earlier report (report.html, metrics.json); "
                                           "pass --force to replace it")
    assert _files(out) == before
    assert run(capsys, *argv, "--seed", 5, "--force")[0] == 0
    assert json.loads((out / "metrics.json").read_text())["settings"]["seed"] == 5


def test_a_dataset_folder_resumes_is_left_when_finished_and_is_replaced_only_with_force(
        capsys, tmp_path: Path, made) -> None:
    out = tmp_path / "d"
    argv = ["generate", "--model", made["model"], "-n", 1000, "--chunk-size", 250, "--shard-chunks", 2,
            "--workers", 1, "-o", out]
    assert run(capsys, *argv, "--seed", 1, "-q")[0] == 0
    shards = {k: v for k, v in _files(out).items() if k.startswith("part-")}
    assert len(shards) == 2
    code, stdout, _ = run(capsys, *argv, "--seed", 1)  # the same command, finished: nothing to do
    assert code == 0 and f"dataset {out} is already complete" in stdout and "nothing left to do" in stdout
    assert {k: v for k, v in _files(out).items() if k.startswith("part-")} == shards
    assert_user_error(capsys, *argv, "--seed", 2, match="other settings (seed=1 (now 2))")
    assert {k: v for k, v in _files(out).items() if k.startswith("part-")} == shards
    assert run(capsys, *argv, "--seed", 2, "--force", "-q")[0] == 0
    assert json.loads((out / RUN_FILE).read_text())["settings"]["seed"] == 2
    single = tmp_path / "g.parquet"
    assert run(capsys, "generate", "--model", made["model"], "-n", 1000, "--chunk-size", 250, "--seed", 2,
               "-o", single, "-q")[0] == 0
    assert np.array_equal(read_table(out)["x"], read_table(single)["x"])  # the new dataset, whole


def test_force_replaces_a_simulated_dataset_folder_that_holds_nothing_else(capsys, tmp_path: Path) -> None:
    pytest.importorskip("pythia8mc")
    out = tmp_path / "z"
    argv = ["simulate", "zmumu", "-n", 20, "--pileup", 0, "--shard-size", 20, "-o", out, "-q"]
    assert run(capsys, *argv, "--seed", 1)[0] == 0
    first = _files(out)["shard-00000.parquet"]
    assert_user_error(capsys, *argv, "--seed", 2, match="other settings")
    assert run(capsys, *argv, "--seed", 2, "--force")[0] == 0
    manifest = json.loads((out / SIMULATED_DATASET_MANIFEST).read_text())
    assert manifest["settings"]["seed"] == 2 and manifest["complete"] is True
    assert sorted(_files(out)) == [SIMULATED_DATASET_MANIFEST, "shard-00000.parquet"]
    assert _files(out)["shard-00000.parquet"] != first
    (out / "notes.txt").write_text("mine")
    before = _files(out)
    assert_user_error(capsys, *argv, "--seed", 3, "--force", match="holds notes.txt besides its dataset")
    assert _files(out) == before


# ----------------------------------------------------------------------------- 2. no leftovers


def _broken(*args: object, **kwargs: object) -> None:
    raise FlashgenError("the first shard failed")


def test_a_failed_sharded_generation_leaves_no_manifest_of_its_own(capsys, tmp_path: Path, made,
                                                                  monkeypatch) -> None:
    import flashgen.sharded as sharded

    new, mine = tmp_path / "d", tmp_path / "mine"
    mine.mkdir()
    argv = ["generate", "--model", made["model"], "--workers", 1, "--chunk-size", 100, "--shard-chunks", 2]
    assert_user_error(capsys, *argv, "-n", "1e15", "-o", new, match="GB free")  # refused before any file
    monkeypatch.setattr(sharded, "generate_shard", _broken)
    for out in (new, mine):
        assert_user_error(capsys, *argv, "-n", 1000, "-o", out, match="the first shard failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and list(mine.iterdir()) == []
    # a resumed run keeps its manifest and finished shards: a rerun finishes them
    monkeypatch.undo()
    assert run(capsys, *argv, "-n", 1000, "-o", new, "-q")[0] == 0
    (new / "part-00004.parquet").unlink()
    monkeypatch.setattr(sharded, "generate_shard", _broken)
    assert_user_error(capsys, *argv, "-n", 1000, "-o", new, match="the first shard failed")
    assert sorted(_files(new)) == [RUN_FILE] + [f"part-{i:05d}.parquet" for i in range(4)]


def test_a_failed_simulation_leaves_no_manifest_of_its_own(capsys, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("pythia8mc")
    import flashgen.sources.zmumu.production as production

    monkeypatch.setattr(production, "run_shard", _broken)
    new, mine = tmp_path / "z", tmp_path / "mine"
    mine.mkdir()
    for out in (new, mine):
        assert_user_error(capsys, "simulate", "zmumu", "-n", 20, "--pileup", 0, "-o", out,
                          match="the first shard failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and list(mine.iterdir()) == []


# ----------------------------------------------------------------------------- 3. out of range


def test_sharded_generation_counts_events_beyond_the_training_range_as_one_file_does(
        capsys, tmp_path: Path, made) -> None:
    model = FlashModel.load(made["model"])
    model.info["support"] = {"x": [-0.7, 0.7]}  # the ring has radius 1: many events are redrawn
    narrow = model.save(tmp_path / "narrow.pt")
    argv = ["generate", "--model", narrow, "-n", 3000, "--chunk-size", 500, "--seed", 3, "-q"]
    code, _, single_err = run(capsys, *argv, "-o", tmp_path / "g.parquet")
    assert code == 0
    single = read_table(tmp_path / "g.parquet")
    expected = single.meta["redrawn"]
    assert expected["of"] == 3000 and expected["events"] > 100
    code, _, err = run(capsys, *argv, "--workers", 1, "--shard-chunks", 2, "-o", tmp_path / "d")
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 1 and lines[0].startswith("flashgen: warning: ")
    assert err == single_err and f"{expected['events']:,} of 3,000 generated events" in err
    manifest = json.loads((tmp_path / "d" / RUN_FILE).read_text())
    assert manifest["redrawn"] == expected
    assert len(manifest["redrawn_by_shard"]) == 3
    assert sum(manifest["redrawn_by_shard"].values()) == expected["events"]
    assert np.array_equal(read_table(tmp_path / "d")["x"], single["x"])
    assert np.all(np.abs(single["x"]) <= 0.84)  # within the support: range + 10 % margin


def test_sharded_generation_counts_a_conditional_model_beyond_its_range_as_one_file_does(
        capsys, tmp_path: Path) -> None:
    data = tmp_path / "el.parquet"
    assert run(capsys, "simulate", "electron", "-n", 3000, "-o", data, "-q")[0] == 0
    assert run(capsys, "train", "--data", data, "-m", "flow", "--preset", "electron", "--steps", 20,
               "--set", "transforms=1", "--set", "hidden=8,8", "-o", tmp_path / "el.pt", "-q")[0] == 0
    model = FlashModel.load(tmp_path / "el.pt")
    model.info["support"] = {"pt": [0.0, 3.0]}  # a conditional model's excess is counted, not redrawn
    narrow = model.save(tmp_path / "narrow.pt")
    argv = ["generate", "--model", narrow, "--conditions", data, "--chunk-size", 500, "--seed", 3, "-q"]
    code, _, single_err = run(capsys, *argv, "-o", tmp_path / "g.parquet")
    assert code == 0
    single = read_table(tmp_path / "g.parquet")
    expected = single.meta["unsupported"]
    assert expected["of"] == 3000 and expected["events"] > 100
    code, _, err = run(capsys, *argv, "--workers", 1, "--shard-chunks", 2, "-o", tmp_path / "d")
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 1 and lines[0].startswith("flashgen: warning: ")
    assert err == single_err and f"{expected['events']:,} of 3,000 generated events" in err
    manifest = json.loads((tmp_path / "d" / RUN_FILE).read_text())
    assert manifest["unsupported"] == expected and "redrawn" not in manifest
    assert sum(manifest["unsupported_by_shard"].values()) == expected["events"]
    np.testing.assert_array_equal(read_table(tmp_path / "d")["pt"], single["pt"])
