"""Requests too large for any machine, and output names the filesystem cannot hold, are one
clear line (exit 2) before any work or any file; a legal long name works with its temporary."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashgen.arguments import MAX_COUNT
from flashgen.data import read_table
from flashgen.files import atomic_path, remove_temporaries

from .helpers import assert_user_error, run


@pytest.mark.parametrize("n", ["1e30", "9223372036854775808", str(MAX_COUNT + 1), "1e16"])
def test_counts_beyond_two_to_the_53_are_refused(capsys, tmp_path: Path, n: str) -> None:
    assert_user_error(capsys, "simulate", "camelback", "-n", n, "-o", tmp_path / "a.parquet", match="too large")
    assert list(tmp_path.iterdir()) == []


def test_a_reference_larger_than_the_disk_is_refused_before_any_file(capsys, tmp_path: Path) -> None:
    assert_user_error(capsys, "simulate", "zmumu", "-n", "1e12", "-o", tmp_path / "z", match="GB free")
    assert_user_error(capsys, "bench", "-n", "1e12", "-o", tmp_path / "b.json", match="GB free")
    assert list(tmp_path.iterdir()) == []


def test_names_and_paths_too_long_are_one_line(capsys, tmp_path: Path) -> None:
    assert_user_error(capsys, "simulate", "camelback", "-n", "10", "-o", tmp_path / ("a" * 250 + ".parquet"),
                      match="the filesystem allows 255")
    deep = tmp_path.joinpath(*["d"] * 2100) / "x.parquet"
    assert_user_error(capsys, "simulate", "camelback", "-n", "10", "-o", deep, match="the system allows 4095")
    assert list(tmp_path.iterdir()) == []


def test_a_legal_248_byte_name_is_written_through_its_temporary(capsys, tmp_path: Path) -> None:
    out = tmp_path / ("b" * 240 + ".parquet")
    assert len(out.name.encode()) == 248
    code, _, err = run(capsys, "simulate", "camelback", "-n", "50", "-o", out, "-q")
    assert code == 0, err
    assert len(read_table(out)) == 50 and [p.name for p in tmp_path.iterdir()] == [out.name]
    # a temporary a hard kill left for such a name is found and removed by the next write
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            stale = tmp.with_name(tmp.name[:-5] + ("Z" if tmp.name[-5] != "Z" else "Y") + ".tmp")
            tmp.rename(stale)
            raise RuntimeError("killed")
    assert len(list(tmp_path.glob(".*.tmp"))) == 1
    assert remove_temporaries(tmp_path, out.name) == 1
