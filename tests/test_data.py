"""Event tables: Parquet/ROOT round trips, shard folders, streaming and atomic writes, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uproot

from flashgen.data import (
    Column,
    EventTable,
    TableWriter,
    read_table,
    table_format,
    write_table,
)
from flashgen.errors import FlashgenError
from flashgen.files import check_output_path

FORMATS = ["parquet", "root"]


def sample_table(n: int = 50, seed: int = 7) -> EventTable:
    """A table with float, int, bool and nullable (NaN-holding) columns, units and metadata."""
    rng = np.random.default_rng(seed)
    pt = rng.exponential(20.0, n)
    pt_nan = np.where(rng.random(n) < 0.3, np.nan, pt)
    data = {
        "pt": pt,
        "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "nvtx": rng.poisson(20, n).astype(np.int64),
        "charge": rng.choice(np.array([-1, 1], dtype=np.int8), n),
        "npart": rng.integers(0, 1000, n).astype(np.int32),
        "tag": rng.random(n) < 0.5,
        "reco_pt": pt_nan,
    }
    columns = {
        "pt": Column("pt", "GeV", "true transverse momentum"),
        "phi": Column("phi", "rad", "azimuth"),
        "nvtx": Column("nvtx", "", "number of vertices"),
        "reco_pt": Column("reco_pt", "GeV", "reconstructed pT (NaN if lost)", nullable=True),
    }
    meta = {"producer": "tests", "seed": seed, "params": {"width": 0.1, "list": [1, 2]}}
    return EventTable(data, columns, meta)


def assert_same_table(got: EventTable, want: EventTable) -> None:
    """Same names (in order), dtypes, values (NaN in the same places) and schema."""
    assert got.names == want.names
    for name in want.names:
        assert got[name].dtype == want[name].dtype, name
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        assert got.columns[name] == want.columns[name]


def files_in(folder: Path) -> list[str]:
    """All entries of ``folder``, hidden temporary files included."""
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_values_dtypes_units_meta(tmp_path: Path, fmt: str) -> None:
    table = sample_table()
    path = write_table(table, tmp_path / f"t.{fmt}")
    assert path == tmp_path / f"t.{fmt}"
    back = read_table(path)
    assert_same_table(back, table)
    assert back.unit("pt") == "GeV" and back.unit("phi") == "rad" and back.unit("tag") == ""
    assert back.columns["reco_pt"].nullable and not back.columns["pt"].nullable
    assert int(np.isnan(back["reco_pt"]).sum()) == int(np.isnan(table["reco_pt"]).sum()) > 0
    for key, value in table.meta.items():
        assert back.meta[key] == value
    assert back.meta["source"] == str(path)
    assert "flashgen_version" in back.meta


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_selected_columns_in_requested_order(tmp_path: Path, fmt: str) -> None:
    table = sample_table()
    path = write_table(table, tmp_path / f"t.{fmt}")
    back = read_table(path, columns=["nvtx", "pt"])
    assert back.names == ["nvtx", "pt"]
    np.testing.assert_array_equal(back["nvtx"], table["nvtx"])
    assert back.unit("pt") == "GeV"


def test_parquet_metadata_is_plain_json_in_the_file(tmp_path: Path) -> None:
    path = write_table(sample_table(), tmp_path / "t.parquet")
    stored = json.loads(pq.read_schema(path).metadata[b"flashgen"])
    assert stored["columns"]["pt"]["unit"] == "GeV"
    assert stored["seed"] == 7


def test_root_file_is_an_events_ttree(tmp_path: Path) -> None:
    table = sample_table()
    path = write_table(table, tmp_path / "t.root")
    with uproot.open(path) as f:
        tree = f["Events"]
        assert tree.num_entries == len(table)
        np.testing.assert_array_equal(tree["nvtx"].array(library="np"), table["nvtx"])
        assert json.loads(str(f["flashgen_meta"]))["columns"]["phi"]["unit"] == "rad"


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_table_keeps_dtypes(tmp_path: Path, fmt: str) -> None:
    table = sample_table().take(slice(0, 0))
    path = write_table(table, tmp_path / f"e.{fmt}")
    back = read_table(path, allow_empty=True)
    assert len(back) == 0
    assert_same_table(back, table)
    with pytest.raises(FlashgenError, match="holds no events"):
        read_table(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_writer_without_chunks_writes_a_valid_empty_table(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"e.{fmt}"
    with TableWriter(path, [Column("x", "GeV"), Column("y")], {"seed": 1}):
        pass
    back = read_table(path, allow_empty=True)
    assert back.names == ["x", "y"] and len(back) == 0 and back.unit("x") == "GeV"


# ---------------------------------------------------------------------------------------------
# Folders of shards


def test_folder_of_shards_in_name_order_skipping_hidden_and_underscore(tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    folder.mkdir()
    table = sample_table(30)
    # Written out of name order; the reader must sort by name.
    write_table(table.take(slice(20, 30)), folder / "shard_002.parquet")
    write_table(table.take(slice(0, 10)), folder / "shard_000.parquet")
    write_table(table.take(slice(10, 20)), folder / "shard_001.parquet")
    junk = sample_table(5, seed=99)
    write_table(junk, folder / ".shard_hidden.parquet")
    write_table(junk, folder / "_metadata.parquet")
    (folder / "README.txt").write_text("not a shard")
    assert table_format(folder) == "dataset"
    back = read_table(folder)
    assert_same_table(back, table)
    assert back.meta["shards"] == 3
    sub = read_table(folder, columns=["charge"])
    np.testing.assert_array_equal(sub["charge"], table["charge"])


def test_folder_shards_with_unknown_column(tmp_path: Path) -> None:
    write_table(sample_table(5), tmp_path / "a.parquet")
    with pytest.raises(FlashgenError, match=r"unknown column\(s\) nope.*available: pt, phi"):
        read_table(tmp_path, columns=["nope"])


def test_folder_without_shards(tmp_path: Path) -> None:
    write_table(sample_table(5), tmp_path / "_only_hidden.parquet")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FlashgenError, match="folder without Parquet shards"):
        read_table(tmp_path)


# ---------------------------------------------------------------------------------------------
# Streaming and atomic writes


@pytest.mark.parametrize("fmt", FORMATS)
def test_streaming_writer_in_several_chunks(tmp_path: Path, fmt: str, monkeypatch) -> None:
    import flashgen.data

    monkeypatch.setattr(flashgen.data, "ROW_GROUP_EVENTS", 30)  # chunks are collected into groups of >= 30
    table = sample_table(100)
    path = tmp_path / f"s.{fmt}"
    edges = [0, 10, 10, 45, 100]  # includes an empty chunk
    schema = list(table.columns.values())
    with TableWriter(path, schema, table.meta) as writer:
        for lo, hi in zip(edges[:-1], edges[1:]):
            writer.write(table.take(slice(lo, hi)))
            assert not path.exists()  # nothing under the final name before the end
    assert writer.n_events == 100
    assert_same_table(read_table(path), table)
    if fmt == "parquet":
        meta = pq.ParquetFile(path).metadata
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [45, 55]


def test_writer_accepts_plain_dicts_and_checks_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    with pytest.raises(FlashgenError, match="chunk lacks column"):
        with TableWriter(path, [Column("x"), Column("y")]) as writer:
            writer.write({"x": np.arange(3.0), "y": np.arange(3.0)})
            writer.write({"x": np.arange(3.0)})
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_exception_inside_writer_leaves_no_file_and_no_temp(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"a.{fmt}"
    with pytest.raises(RuntimeError, match="boom"):
        with TableWriter(path, [Column("x")]) as writer:
            writer.write({"x": np.arange(1000.0)})
            assert len(files_in(tmp_path)) == 1 and files_in(tmp_path)[0].startswith(".a.")
            raise RuntimeError("boom")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_existing_target_untouched_until_success(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"a.{fmt}"
    old = EventTable({"x": np.arange(5.0)})
    new = EventTable({"x": np.arange(7.0) + 100})
    write_table(old, path)

    with pytest.raises(KeyboardInterrupt):
        with TableWriter(path, [Column("x")]) as writer:
            writer.write(new)
            np.testing.assert_array_equal(read_table(path)["x"], old["x"])  # mid-write
            raise KeyboardInterrupt
    np.testing.assert_array_equal(read_table(path)["x"], old["x"])
    assert files_in(tmp_path) == [path.name]

    with TableWriter(path, [Column("x")]) as writer:
        writer.write(new)
        np.testing.assert_array_equal(read_table(path)["x"], old["x"])
    np.testing.assert_array_equal(read_table(path)["x"], new["x"])
    assert files_in(tmp_path) == [path.name]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_value_refused_on_write(tmp_path: Path, fmt: str, bad: float) -> None:
    x = np.arange(10.0)
    x[4] = bad
    table = EventTable({"x": x, "ok": np.where(np.arange(10) % 2, np.nan, 1.0)},
                       {"ok": Column("ok", nullable=True)})
    with pytest.raises(FlashgenError, match=r"column 'x' has 1 NaN/inf value"):
        write_table(table, tmp_path / f"n.{fmt}")
    assert files_in(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Reading: clear errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FlashgenError, match="does not exist"):
        read_table(tmp_path / "nothing.parquet")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_columns_list_available(tmp_path: Path, fmt: str) -> None:
    path = write_table(sample_table(), tmp_path / f"t.{fmt}")
    with pytest.raises(FlashgenError) as err:
        read_table(path, columns=["pt", "mll", "met"])
    message = str(err.value)
    assert message.startswith("unknown column(s) mll, met in ")
    assert "available: pt, phi, nvtx, charge, npart, tag, reco_pt" in message


def test_unknown_column_of_a_table_lists_available() -> None:
    table = sample_table(3)
    with pytest.raises(FlashgenError, match="unknown column.*mll.*available: pt, phi"):
        table["mll"]
    with pytest.raises(FlashgenError, match="available"):
        table.select(["pt", "mll"])


def test_nan_in_foreign_parquet_refused_on_read(tmp_path: Path) -> None:
    path = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1.0, np.nan, 3.0], "y": [1.0, 2.0, 3.0]}), path)
    with pytest.raises(FlashgenError, match=r"column 'x' has 1 NaN/inf"):
        read_table(path)
    np.testing.assert_array_equal(read_table(path, columns=["y"])["y"], [1.0, 2.0, 3.0])


def test_inf_in_foreign_root_refused_on_read(tmp_path: Path) -> None:
    path = tmp_path / "foreign.root"
    with uproot.recreate(path) as f:
        f["Events"] = {"x": np.array([1.0, np.inf, -np.inf]), "n": np.arange(3)}
    with pytest.raises(FlashgenError, match=r"column 'x' has 2 NaN/inf"):
        read_table(path)
    back = read_table(path, columns=["n"])
    assert back.unit("n") == "" and back["n"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_zero_byte_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"z.{fmt}"
    path.write_bytes(b"")
    with pytest.raises(FlashgenError, match=r"empty \(0 bytes\)"):
        read_table(path)


def test_truncated_parquet(tmp_path: Path) -> None:
    path = write_table(sample_table(2000), tmp_path / "t.parquet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FlashgenError, match="not a valid Parquet file, truncated or corrupt"):
        read_table(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("n", [5, 1000])
def test_truncated_root(tmp_path: Path, keep: float, n: int) -> None:
    # A small cut ROOT file still opens (its tree sits in the first part), so the reader must
    # compare the size with the end recorded in the header.
    path = write_table(sample_table(n), tmp_path / "t.root")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FlashgenError, match="truncated"):
        read_table(path)


def test_garbage_file_with_table_suffix(tmp_path: Path) -> None:
    for name in ("g.parquet", "g.root"):
        (tmp_path / name).write_bytes(b"this is not a table\n" * 50)
        with pytest.raises(FlashgenError, match="not a valid"):
            read_table(tmp_path / name)


def test_root_file_without_events_tree(tmp_path: Path) -> None:
    path = tmp_path / "other.root"
    with uproot.recreate(path) as f:
        f["Muons"] = {"pt": np.arange(3.0)}
    with pytest.raises(FlashgenError, match="no TTree named 'Events'"):
        read_table(path)


def test_unknown_suffix_on_read_and_write(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x\n1\n")
    with pytest.raises(FlashgenError, match=r"unknown table format '\.csv'; use \.parquet or \.root"):
        read_table(path)
    with pytest.raises(FlashgenError, match="unknown table format"):
        write_table(sample_table(), tmp_path / "u.h5")
    assert files_in(tmp_path) == ["t.csv"]


# ---------------------------------------------------------------------------------------------
# Output paths


def test_directory_given_as_output_file(tmp_path: Path) -> None:
    (tmp_path / "out.parquet").mkdir()
    for target in (tmp_path, tmp_path / "out.parquet"):
        with pytest.raises(FlashgenError, match="is a directory; give a file name"):
            write_table(sample_table(), target)
    assert files_in(tmp_path / "out.parquet") == []


def test_missing_output_folder(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "t.parquet"
    with pytest.raises(FlashgenError, match="does not exist; create it first"):
        write_table(sample_table(), target)
    assert not (tmp_path / "no").exists()


def test_unwritable_output_folder(tmp_path: Path) -> None:
    # Root ignores chmod, so the "folder" is a regular file: nothing can be created under it.
    blocker = tmp_path / "somefile"
    blocker.write_text("a file, not a folder")
    with pytest.raises(FlashgenError, match="cannot write into .*somefile"):
        write_table(sample_table(), blocker / "x.parquet")
    with pytest.raises(FlashgenError, match="cannot write into"):
        check_output_path(blocker / "report", directory=True)
    assert blocker.read_text() == "a file, not a folder"


def test_temporary_file_refused_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    # e.g. /proc passes the access check but refuses new files
    import errno
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(FlashgenError, match=r"cannot write .*t\.parquet: Permission denied$"):
        write_table(sample_table(), tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_check_output_path_rules(tmp_path: Path) -> None:
    existing = write_table(sample_table(3), tmp_path / "e.parquet")
    assert check_output_path(existing) == existing
    with pytest.raises(FlashgenError, match="exists; pass --force to replace it"):
        check_output_path(existing, overwrite=False)
    with pytest.raises(FlashgenError, match="is not a directory"):
        check_output_path(existing, directory=True)
    assert check_output_path(tmp_path / "new_dir", directory=True) == tmp_path / "new_dir"
    assert check_output_path(tmp_path, directory=True) == tmp_path


# ---------------------------------------------------------------------------------------------
# EventTable itself


def test_event_table_shape_checks_and_helpers() -> None:
    with pytest.raises(FlashgenError, match="different lengths"):
        EventTable({"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(FlashgenError, match="one-dimensional"):
        EventTable({"a": np.zeros((3, 2))})
    table = EventTable({"a": [1.0, 2.0, 3.0], "b": [4, 5, 6]}, {"a": Column("a", "GeV")})
    assert len(table) == 3 and "a" in table and "z" not in table
    assert table.columns["b"] == Column("b")
    np.testing.assert_array_equal(table.to_numpy(["b", "a"]), [[4, 1], [5, 2], [6, 3]])
    assert table.to_numpy(["a"]).shape == (3, 1)
    picked = table.take(np.array([True, False, True]))
    assert picked["b"].tolist() == [4, 6] and picked.unit("a") == "GeV"
    both = EventTable.concat([table, picked])
    assert both["a"].tolist() == [1.0, 2.0, 3.0, 1.0, 3.0]
    with pytest.raises(FlashgenError, match="different columns"):
        EventTable.concat([table, table.select(["a"])])


def test_concat_metadata_of_shards() -> None:
    shards = [EventTable({"x": np.zeros(n)}, meta={"producer": "p", "shard": i, "events_generated": 10,
                                                      "events_selected": n, "efficiency": n / 10})
              for i, n in enumerate([3, 4])]
    meta = EventTable.concat(shards).meta
    assert meta["producer"] == "p" and meta["events_generated"] == 20 and meta["events_selected"] == 7
    assert "shard" not in meta and "efficiency" not in meta
    assert meta["varies"] == ["shard", "efficiency"]


def test_failure_while_finishing_the_file_leaves_nothing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk when the footer is written must not leave a broken file or a temporary."""
    path = tmp_path / "f.parquet"
    write_table(EventTable({"x": np.arange(3.0)}), path)
    close = pq.ParquetWriter.close
    failed = []

    def full_disk_once(self: pq.ParquetWriter) -> None:
        close(self)
        if not failed:
            failed.append(True)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "close", full_disk_once)
    with pytest.raises(OSError, match="No space left") as err:
        write_table(EventTable({"x": np.arange(10.0)}), path)
    # ``err`` keeps the writer's frames alive, so cleanup must not rely on garbage collection.
    assert files_in(tmp_path) == ["f.parquet"], err.value
    assert read_table(path)["x"].tolist() == [0.0, 1.0, 2.0]


def test_generated_tables_are_float32_by_default_and_compact(tmp_path: Path) -> None:
    """Floats are stored in float32 unless float64 is asked for; integers stay integers; the
    Parquet encoding (no dictionaries, byte-stream split, zstd) keeps them small."""
    from flashgen.generation import Sampling, generate
    from flashgen.training import TrainSettings, train

    rng = np.random.default_rng(0)
    table = EventTable({"a": rng.normal(size=2000), "b": rng.exponential(size=2000),
                        "k": rng.poisson(3, 2000)})
    model = train(table, "flow", settings=TrainSettings(steps=10, batch_size=64, snapshot_every=10),
                  config={"transforms": 1, "hidden": (8,)})
    small, full = tmp_path / "f32.parquet", tmp_path / "f64.parquet"
    generate(model, small, 50_000, sampling=Sampling(1), quiet=True)
    generate(model, full, 50_000, sampling=Sampling(1, precision="float64"), quiet=True)
    a, b = read_table(small), read_table(full)
    assert a["a"].dtype == np.float32 and b["a"].dtype == np.float64 and a["k"].dtype == b["k"].dtype == np.int64
    np.testing.assert_array_equal(a["a"], b["a"].astype(np.float32))  # the same events, rounded
    assert small.stat().st_size < 0.6 * full.stat().st_size
    with pytest.raises(FlashgenError, match="unknown precision 'float16'"):
        generate(model, tmp_path / "x.parquet", 10, sampling=Sampling(precision="float16"))
