"""Parallel generation: chunk threads and Dask workers change nothing but the speed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flashgen.cli.main import main
from flashgen.data import read_table
from flashgen.errors import FlashgenError
from flashgen.generation import sample
from flashgen.models.flashmodel import FlashModel
from flashgen.generation import Sampling
from flashgen.sharded import RUN_FILE, Placement, generate_sharded, shard_path

from .helpers import assert_user_error


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ring")
    assert main(["simulate", "ring", "--events", "400", "--seed", "2", "--out", str(d / "r.parquet"), "-q"]) == 0
    assert main(["train", "--data", str(d / "r.parquet"), "--model", "flow", "--features", "x,y",
                 "--steps", "30", "--set", "transforms=2", "--set", "hidden=16,16",
                 "--out", str(d / "m.pt"), "-q"]) == 0
    return d


def test_chunk_threads_give_identical_events(ring) -> None:
    model = FlashModel.load(ring / "m.pt")
    one = sample(model, 5000, seed=3, chunk_size=700, threads=1)
    two = sample(model, 5000, seed=3, chunk_size=700, threads=2)
    three = sample(model, 5000, seed=3, chunk_size=700, threads=3)
    for name in one.names:
        assert np.array_equal(one[name], two[name]) and np.array_equal(one[name], three[name])
    assert not np.array_equal(one["x"], sample(model, 5000, seed=4, chunk_size=700)["x"])


def test_workers_write_the_same_dataset_as_one_process_and_as_one_file(ring, tmp_path) -> None:
    file = tmp_path / "single.parquet"
    assert main(["generate", "--model", str(ring / "m.pt"), "--events", "5000", "--seed", "7",
                 "--chunk-size", "400", "--out", str(file), "-q"]) == 0
    tables = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert main(["generate", "--model", str(ring / "m.pt"), "--events", "5000", "--seed", "7",
                     "--chunk-size", "400", "--shard-chunks", "3", "--workers", str(workers),
                     "--out", str(out), "-q"]) == 0
        shards = sorted(p.name for p in out.glob("part-*.parquet"))
        assert shards == [f"part-{i:05d}.parquet" for i in range(5)]  # 13 chunks, 3 per shard
        tables[workers] = read_table(out)
        assert json.loads((out / RUN_FILE).read_text())["complete"] is True
    single = read_table(file)
    for name in single.names:
        assert tables[1][name].dtype == np.float32
        assert np.array_equal(tables[1][name], tables[2][name])
        assert np.array_equal(tables[1][name], single[name])


def test_an_interrupted_dataset_resumes_to_the_same_content(ring, tmp_path) -> None:
    out = tmp_path / "d"
    args = dict(n_events=3000, sampling=Sampling(1, 500), placement=Placement(shard_chunks=2), quiet=True)
    generate_sharded(ring / "m.pt", out, **args)
    full = read_table(out)
    first = shard_path(out, 0).read_bytes()
    shard_path(out, 1).unlink()  # as if killed before shard 1 was written
    manifest = json.loads((out / RUN_FILE).read_text())
    (out / RUN_FILE).write_text(json.dumps({k: v for k, v in manifest.items() if k != "complete"}))
    with pytest.raises(FlashgenError, match="unfinished generated dataset"):
        read_table(out)
    (out / ".part-00001.parquet.x.tmp").write_bytes(b"half")  # and a half-written file
    result = generate_sharded(ring / "m.pt", out, **args)
    assert result.events == 1000  # only the missing shard
    assert shard_path(out, 0).read_bytes() == first
    assert not list(out.glob(".*.tmp"))
    again = read_table(out)
    assert np.array_equal(again["x"], full["x"]) and np.array_equal(again["y"], full["y"])


def test_other_settings_are_refused_on_resume(ring, tmp_path, capsys) -> None:
    out = tmp_path / "d"
    generate_sharded(ring / "m.pt", out, 1000, sampling=Sampling(1, 500), quiet=True)
    assert_user_error(capsys, "generate", "--model", ring / "m.pt", "--events", 1000, "--seed", 2,
                      "--chunk-size", 500, "--workers", 1, "--out", out, match="other settings")


def test_connects_to_a_running_scheduler(ring, tmp_path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "d"
        assert main(["generate", "--model", str(ring / "m.pt"), "--events", "2000", "--seed", "5",
                     "--chunk-size", "500", "--shard-chunks", "2", "--scheduler", cluster.scheduler_address,
                     "--out", str(out), "-q"]) == 0
    local = sample(FlashModel.load(ring / "m.pt"), 2000, seed=5, chunk_size=500)
    assert np.array_equal(read_table(out)["x"], local["x"].astype(np.float32))


@pytest.mark.parametrize(("extra", "match"), [
    (["--workers", "2", "--format", "nanoaod"], "drop --format nanoaod"),
    (["--shard-chunks", "3"], "--shard-chunks applies to a dataset folder"),
    (["--scheduler", "tcp://127.0.0.1:1"], "cannot connect to the Dask scheduler"),
])
def test_bad_parallel_requests(ring, tmp_path, capsys, extra, match) -> None:
    assert_user_error(capsys, "generate", "--model", ring / "m.pt", "--events", 100,
                      "--out", tmp_path / "d", *extra, match=match)
    assert list(tmp_path.iterdir()) == []  # no folder, no manifest left by the failed run


def test_a_root_name_is_refused_for_a_dataset(ring, tmp_path, capsys) -> None:
    assert_user_error(capsys, "generate", "--model", ring / "m.pt", "--events", 100, "--workers", 2,
                      "--out", tmp_path / "d.root", match="folder of Parquet shards")


def test_the_dataset_folder_is_read_by_pyarrow_and_uproot_reads_large_baskets(ring, tmp_path) -> None:
    import pyarrow.dataset as ds
    import uproot

    out = tmp_path / "d"
    generate_sharded(ring / "m.pt", out, 3000, sampling=Sampling(1, 500), placement=Placement(shard_chunks=2),
                     quiet=True)
    table = ds.dataset(out, format="parquet").to_table()  # the manifest (_...) is skipped
    assert table.num_rows == 3000 and table.column_names == ["x", "y"]
    assert np.array_equal(table.column("x").to_numpy(), read_table(out)["x"])
    model = FlashModel.load(ring / "m.pt")
    from flashgen.generation import generate

    generate(model, tmp_path / "g.root", 5000, sampling=Sampling(1, 500), quiet=True)
    with uproot.open(tmp_path / "g.root") as f:
        branch = f["Events"]["x"]
        assert branch.num_baskets == 1 and branch.interpretation.to_dtype.name == "float32"
        x = branch.array(library="np")
    assert np.array_equal(x, sample(model, 5000, seed=1, chunk_size=500)["x"].astype(np.float32))


def test_conditions_from_a_folder_of_shards_give_the_single_file_events(tmp_path) -> None:
    from flashgen.data import write_table
    from flashgen.sources.electron import simulate_electrons

    write_table(simulate_electrons(3000, seed=2), tmp_path / "e.parquet")
    assert main(["train", "--data", str(tmp_path / "e.parquet"), "--model", "flow", "--preset", "electron",
                 "--steps", "20", "--out", str(tmp_path / "e.pt"), "-q"]) == 0
    cond = simulate_electrons(900, seed=3).select(["gen_pt", "gen_eta", "gen_phi"])
    (tmp_path / "cond").mkdir()
    write_table(cond.take(slice(0, 400)), tmp_path / "cond" / "a.parquet")
    write_table(cond.take(slice(400, 900)), tmp_path / "cond" / "b.parquet")
    common = ["generate", "--model", str(tmp_path / "e.pt"), "--conditions", str(tmp_path / "cond"),
              "--chunk-size", "200", "--seed", "4", "-q"]
    assert main([*common, "--out", str(tmp_path / "g.parquet")]) == 0
    assert main([*common, "--workers", "1", "--shard-chunks", "2", "--out", str(tmp_path / "d")]) == 0
    single, sharded = read_table(tmp_path / "g.parquet"), read_table(tmp_path / "d")
    assert len(sharded) == 900 and sharded.names == single.names
    for name in single.names:
        np.testing.assert_array_equal(sharded[name], single[name])
