"""Shared machinery written once: seed derivation, output paths, atomic writes, JSON, manifests."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.files import atomic_path, check_output_path, plain, read_json, remove_temporaries, write_json
from flashgen.manifest import Manifest, differences, refuse_changes
from flashgen.seeds import check_seed, derive_seed

# ----------------------------------------------------------------------------- seeds


def test_derived_seeds_are_reproducible_independent_and_in_range() -> None:
    assert derive_seed(7, 1) == derive_seed(7, 1)
    seeds = {derive_seed(s, *key) for s in (0, 1, 2**62) for key in [(0,), (1,), (0, 1), (1, 0), (2, 3, 4)]}
    assert len(seeds) == 15  # no two streams share a seed
    assert all(0 <= s < 2**63 for s in seeds)
    # the documented construction: the first two words of SeedSequence(seed, spawn_key=key)
    words = np.random.SeedSequence(7, spawn_key=(3,)).generate_state(2, np.uint32)
    assert derive_seed(7, 3) == int(words[0]) << 31 | int(words[1]) >> 1
    # trailing zeros make a different stream (they would not as extra entropy words)
    assert derive_seed(7, 1) != derive_seed(7, 1, 0) and derive_seed(7) != derive_seed(7, 0)


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, "3", True, None])
def test_bad_seeds_are_clear_errors(bad) -> None:
    with pytest.raises(FlashgenError, match="seed must be an integer"):
        check_seed(bad)
    assert check_seed(np.int64(5)) == 5


# ----------------------------------------------------------------------------- files


def test_plain_converts_numpy_paths_and_non_finite_values(tmp_path) -> None:
    obj = {1: np.float32(0.5), "a": (np.int64(3), np.array([1.0, np.nan])), "p": tmp_path,
           "b": np.bool_(True), "inf": math.inf, "none": None, "obj": object}
    out = plain(obj)
    assert out == {"1": 0.5, "a": [3, [1.0, None]], "p": str(tmp_path), "b": True, "inf": None,
                   "none": None, "obj": str(object)}
    json.dumps(out, allow_nan=False)
    with pytest.raises(TypeError, match="cannot store type"):
        plain({"x": object}, strict=True)


def test_write_json_is_atomic_and_readable(tmp_path) -> None:
    path = write_json({"x": np.float64(1.5), "y": np.nan}, tmp_path / "r.json")
    assert read_json(path) == {"x": 1.5, "y": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    with pytest.raises(FlashgenError, match="is a directory"):
        write_json({}, tmp_path)
    with pytest.raises(FlashgenError, match="does not exist"):
        write_json({}, tmp_path / "no" / "r.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(FlashgenError, match="manifest .* is unreadable"):
        read_json(tmp_path / "bad.json", what="manifest")


def test_failed_atomic_write_leaves_nothing_and_temporaries_are_cleaned(tmp_path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]
    (tmp_path / ".t.txt.abc.tmp").write_text("left by a kill")
    assert remove_temporaries(tmp_path) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_output_path_suffixes(tmp_path) -> None:
    assert check_output_path(tmp_path / "a.root") == tmp_path / "a.root"
    with pytest.raises(FlashgenError, match="unknown table format '.csv'"):
        check_output_path(tmp_path / "a.csv")
    assert check_output_path(tmp_path / "m.pt", suffixes=None) == tmp_path / "m.pt"
    with pytest.raises(FlashgenError, match="must end in .json"):
        check_output_path(tmp_path / "m.txt", suffixes=(".json",))


# ----------------------------------------------------------------------------- manifests


def test_manifest_creates_resumes_refuses_and_forces(tmp_path) -> None:
    out = tmp_path / "job"
    first = Manifest.open(out, "run.json", {"events": 10, "seed": (1, 2)}, what="test job")
    assert not first.resumed and (out / "run.json").is_file()
    first.state["stages"] = {"a": 1.5}
    first.save()
    again = Manifest.open(out, "run.json", {"events": 10, "seed": [1, 2]}, what="test job")
    assert again.resumed and again.changed == [] and again.state["stages"] == {"a": 1.5}
    with pytest.raises(FlashgenError, match=r"holds a test job with other settings \(events=10 \(now 11\)\)"):
        Manifest.open(out, "run.json", {"events": 11, "seed": [1, 2]}, what="test job")
    forced = Manifest.open(out, "run.json", {"events": 11, "seed": [1, 2]}, what="test job", force=True)
    assert forced.changed == ["events"] and forced.describe_changes() == "events=10 (now 11)"
    forced.save()
    assert json.loads((out / "run.json").read_text())["settings"]["events"] == 11


def test_manifest_errors(tmp_path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("x")
    with pytest.raises(FlashgenError, match="not empty and holds no test job"):
        Manifest.open(foreign, "run.json", {}, what="test job")
    assert Manifest.open(foreign, "run.json", {}, what="test job", allow_foreign=True).resumed is False
    (foreign / "run.json").write_text("[1, 2")
    with pytest.raises(FlashgenError, match="unreadable"):
        Manifest.open(foreign, "run.json", {}, what="test job")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(FlashgenError, match="not a directory"):
        Manifest.open(a_file, "run.json", {}, what="test job")


def test_differences_and_refusal() -> None:
    assert differences({"a": 1, "b": (1, 2), "gone": 0}, {"a": 1, "b": [1, 2], "new": 3}) == ["new", "gone"]
    refuse_changes({"a": 1}, {"a": 1}, "x", "y")  # nothing changed: no error
    with pytest.raises(FlashgenError, match=r"cannot resume \(a=1 \(now 2\)\); start afresh"):
        refuse_changes({"a": 1}, {"a": 2}, "cannot resume", "start afresh")
