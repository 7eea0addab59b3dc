"""The main job on your own table (``flashgen run --data``): read, split, train without a preset,
generate, validate and the worth of every feature; NanoAOD-like ROOT input with collections."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.helpers import assert_user_error, run  # tests/ is on sys.path (rootdir of tests/cli)
from flashgen.cli.run import summary_lines
from flashgen.data import read_table, write_table
from flashgen.errors import FlashgenError
from flashgen.job import RUN_FILE, RunSettings, run_pipeline
from flashgen.models import EnsembleModel, load_model
from flashgen.sources.toys import simulate_toy
from test_collections import nanoaod_events, write_nanoaod  # noqa: E402

ROWS = 3000
QUICK = dict(ensemble=4, steps=40, factor=3.0, workers=1, validation_events=5000, seed=3)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("own") / "mixed.parquet"
    write_table(simulate_toy("mixed", ROWS, seed=4), path)
    return path


@pytest.fixture(scope="module")
def job(table, tmp_path_factory) -> tuple[Path, RunSettings, dict, list[str]]:
    out = tmp_path_factory.mktemp("job") / "run"
    settings = RunSettings(data=str(table), **QUICK)
    lines: list[str] = []
    summary = run_pipeline(out, settings, quiet=True, log=lines.append)
    return out, settings, summary, lines


def test_the_job_reads_splits_and_trains_every_numeric_column_without_a_preset(job, table) -> None:
    out, settings, summary, lines = job
    source = read_table(table)
    train, held = read_table(out / "reference-train.parquet"), read_table(out / "reference-heldout.parquet")
    assert len(train) + len(held) == ROWS and len(held) == round(settings.holdout * ROWS)
    key = ["pt", "eta", "phi"]
    assert {tuple(r) for r in source.to_numpy(key)} == ({tuple(r) for r in train.to_numpy(key)}
                                                        | {tuple(r) for r in held.to_numpy(key)})
    model = load_model(out / "model.pt")
    assert isinstance(model, EnsembleModel) and len(model) == 4
    assert model.feature_names == source.names and model.condition_names == []
    assert model.info["preset"] is None and "plan" in model.info  # the automatic preprocessing
    assert model.info["ensemble"]["train_events"] == len(train)
    assert lines[0].startswith("[1/5] read: ") and "automatic preprocessing" in lines[4]
    assert summary["reference"]["data"] == str(table) and summary["reference"]["features"] == source.names
    assert summary["speedup"] == {"per_selected_event": None, "per_generated_event": None}


def test_generated_events_stay_in_each_columns_support(job, table) -> None:
    out, _, summary, _ = job
    generated, source = read_table(out / "generated.parquet"), read_table(table)
    assert len(generated) == summary["generation"]["events"] == 3 * ROWS
    for name in source.names:
        g, s = np.asarray(generated[name], dtype=np.float64), np.asarray(source[name], dtype=np.float64)
        margin = 0.1 * (s.max() - s.min())
        assert s.min() - margin <= g.min() and g.max() <= s.max() + margin, name
    assert np.all(generated["weight"] == source["weight"][0])  # a constant column, restored exactly
    assert set(np.unique(generated["tight"])) <= {0.0, 1.0}


def test_the_worth_of_every_varying_feature_is_stated(job) -> None:
    out, _, summary, _ = job
    worth = summary["worth_by_feature"]
    assert [w["observable"] for w in worth] == [n for n in summary["reference"]["features"] if n != "weight"]
    assert all(w["generated_events"] == 3 * ROWS and w["members"] == 4 for w in worth)
    assert summary["worth"] == worth[0]
    printed = summary_lines(summary)
    assert sum(line.startswith("worth: ") for line in printed) == len(worth)
    assert printed[0].startswith("stages: read ") and not any(line.startswith("speed-up") for line in printed)
    assert any(line.startswith("verdict: ") for line in printed)
    assert (out / "validation" / "report.html").exists()


def test_a_finished_job_is_skipped_and_a_changed_table_is_read_again(job, table, tmp_path) -> None:
    out, settings, _, _ = job
    lines: list[str] = []
    again = run_pipeline(out, settings, quiet=True, log=lines.append)
    assert again["skipped"] == ["simulate", "split", "train", "generate", "validate"]
    assert lines[0] == f"[1/5] read: skipped ({table} is unchanged)"
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(table.read_bytes())
    moved = tmp_path / "run"
    os.rename(out, moved)
    try:
        state = json.loads((moved / RUN_FILE).read_text())
        assert state["settings"]["data"] == str(table)
        future = os.stat(table).st_mtime + 10  # the table changes: every stage is redone
        os.utime(table, (future, future))
        lines.clear()
        redo = run_pipeline(moved, settings, quiet=True, log=lines.append)
        assert redo["skipped"] == [] and lines[0] == f"[1/5] read: {table}"
    finally:
        os.rename(moved, out)


def test_conditional_columns_are_taken_from_the_held_out_rows(table, tmp_path) -> None:
    settings = RunSettings(data=str(table), features=("pt", "iso"), conditions=("eta",), **QUICK)
    summary = run_pipeline(tmp_path / "run", settings, quiet=True)
    model = load_model(tmp_path / "run" / "model.pt")
    assert model.feature_names == ["pt", "iso"] and model.condition_names == ["eta"]
    held = np.sort(np.asarray(read_table(tmp_path / "run" / "reference-heldout.parquet")["eta"]))
    generated = np.sort(np.asarray(read_table(tmp_path / "run" / "generated.parquet")["eta"]))
    n = summary["generation"]["events"]
    assert n == 3 * ROWS
    expected = np.sort(held[np.arange(n) % len(held)]) if n % len(held) else np.sort(np.tile(held, n // len(held)))
    np.testing.assert_array_equal(generated, np.sort(expected))
    assert [w["observable"] for w in summary["worth_by_feature"]] == ["pt", "iso"]


def test_table_settings_need_the_table_and_are_checked() -> None:
    with pytest.raises(FlashgenError, match="give the table"):
        RunSettings(features=("pt",))
    with pytest.raises(FlashgenError, match="non-empty tuple"):
        RunSettings(data="t.parquet", features=())
    with pytest.raises(FlashgenError, match="N must be an integer"):
        RunSettings(data="t.parquet", collections="Muon:0")
    # the Z→μμ job's identity has no table settings (its run.json stays valid), yours no simulation's
    assert not {"data", "features", "conditions", "collections"} & set(RunSettings().identity())
    assert not {"events", "pileup", "library_events", "source"} & set(RunSettings(data="t").identity())


# ---------------------------------------------------------------------------------------------
# From the command line, NanoAOD-like ROOT with collections


@pytest.fixture(scope="module")
def nano(tmp_path_factory) -> Path:
    return write_nanoaod(tmp_path_factory.mktemp("nano") / "nano.root", nanoaod_events(1500, seed=2))


def test_run_on_a_nanoaod_file_with_collections(nano, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code, text, err = run(capsys, "run", "--data", nano, "--collections", "Muon:1", "--ensemble", 4,
                          "--steps", 30, "--factor", 2, "--workers", 1, "--out", out)
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == f"flashgen run: {out} (your table {nano}, flow, factor 2, seed 0)"
    assert any(line.startswith(f"reference: your table {nano} (collections Muon:1), 1,500 rows") for line in lines)
    model = load_model(out / "model.pt")
    assert model.feature_names == ["nMuon", *(f"Muon_0_{f}" for f in ("pt", "eta", "phi", "mass", "charge")),
                                   "MET_pt", "MET_phi", "PV_npvs", "PV_x", "PV_y", "PV_z"]
    assert sum(line.startswith("worth: ") for line in lines) == len(model.feature_names)
    assert lines[-1].startswith("verdict: ") and (out / "validation" / "report.html").exists()
    assert model.info["collections"] == "Muon:1"  # so generate --format nanoaod writes them back
    code, _, err = run(capsys, "generate", "--model", out / "model.pt", "--format", "nanoaod", "--events", 300,
                       "--out", tmp_path / "back.root", "-q")
    assert code == 0, err
    back = read_table(tmp_path / "back.root")
    assert len(back) == 300 and {"nMuon", "Muon_0_pt", "member"} <= set(back.names)


@pytest.mark.parametrize("args, match", [
    (["--events", "5"], "--events set(s) the Z→μμ simulation; with --data"),
    (["--pileup", "0"], "--pileup set(s) the Z→μμ simulation"),
    (["--collections", "Foo:2"], "unknown collection Foo"),
    (["--collections", "Muon:0"], "N must be an integer >= 1"),
    (["--collections", "Muon:2", "--features", "Muon_0_pt,Muon_0_nope"], "Muon_0_nope"),
])
def test_bad_table_options_are_one_line_and_leave_no_folder(nano, tmp_path, capsys, args, match) -> None:
    out = tmp_path / "run"
    assert_user_error(capsys, "run", "--data", nano, "--out", out, *args, match=match)
    assert not out.exists()


def test_table_errors_are_one_line(table, tmp_path, capsys) -> None:
    assert_user_error(capsys, "run", "--features", "pt", "--out", tmp_path / "a",
                      match="--features choose the columns of your own table: add --data FILE")
    assert_user_error(capsys, "run", "--data", tmp_path / "none.parquet", "--out", tmp_path / "a",
                      match="does not exist")
    empty = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"a": np.arange(100.0), "b": np.full(100, np.nan)}), empty)  # a user's file
    assert_user_error(capsys, "run", "--data", empty, "--out", tmp_path / "b",
                      match="column 'b' has 100 NaN/inf value(s)")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
