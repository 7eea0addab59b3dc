"""``flashgen generate --oversample K``: K rows per condition row, each with its own randomness
and its own efficiency draw, ``event`` and ``copy`` columns, seeded, chunked and sharded alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flashgen.cli.main import main
from flashgen.data import read_table, write_table
from flashgen.generation import Oversampled, sample
from flashgen.models import load_model
from flashgen.sources.electron import simulate_electrons

from .helpers import assert_user_error


@pytest.fixture(scope="module")
def electron(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A briefly trained conditional electron model (with efficiency) and 400 condition rows."""
    folder = tmp_path_factory.mktemp("oversample")
    write_table(simulate_electrons(4000, seed=2), folder / "e.parquet")
    assert main(["train", "--data", str(folder / "e.parquet"), "--model", "flow", "--preset", "electron",
                 "--steps", "40", "--out", str(folder / "e.pt"), "-q"]) == 0
    # low-pT endcap electrons: efficiency ~0.5-0.8, so copies of one row disagree often
    cond = simulate_electrons(400, seed=3).select(["gen_pt", "gen_eta", "gen_phi"])
    write_table(cond, folder / "cond.parquet")
    return folder / "e.pt", folder / "cond.parquet"


def test_oversample_writes_k_rows_per_condition_row(electron, tmp_path) -> None:
    model, cond = electron
    args = ["generate", "--model", str(model), "--conditions", str(cond), "--oversample", "5",
            "--chunk-size", "300", "-q"]
    assert main([*args, "--out", str(tmp_path / "a.parquet")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.parquet")]) == 0
    a, b = read_table(tmp_path / "a.parquet"), read_table(tmp_path / "b.parquet")
    c = read_table(cond)
    assert len(a) == 5 * len(c) == 2000
    assert a.names[-2:] == ["event", "copy"]
    np.testing.assert_array_equal(a["event"], np.repeat(np.arange(len(c)), 5))
    np.testing.assert_array_equal(a["copy"], np.tile(np.arange(5), len(c)))
    np.testing.assert_array_equal(a["gen_pt"], np.repeat(c["gen_pt"], 5))
    for name in a.names:  # identical seeds: identical files
        np.testing.assert_array_equal(a[name], b[name])
    assert a.meta["oversample"] == {"copies": 5, "events": 400}
    # every copy draws its own efficiency decision: copies of one row disagree, as the
    # binomial spread of the efficiency says they should
    det = a["detected"].reshape(-1, 5)
    mixed = np.mean((det.min(axis=1) == 0) & (det.max(axis=1) == 1))
    p = det.mean()
    assert mixed > 0.2 and abs(mixed - (1 - p**5 - (1 - p) ** 5)) < 0.25
    # and its own response: the pT of detected copies of one row differ
    pt = a["pt"].reshape(-1, 5)
    both = np.isfinite(pt[:, 0]) & np.isfinite(pt[:, 1])
    assert np.all(pt[both, 0] != pt[both, 1])


def test_oversample_is_chunk_and_worker_independent(electron, tmp_path) -> None:
    model, cond = electron
    m = load_model(model)
    c = read_table(cond)
    one = sample(m, 0, seed=4, conditions=Oversampled(c, 3), chunk_size=200)
    assert main(["generate", "--model", str(model), "--conditions", str(cond), "--oversample", "3",
                 "--seed", "4", "--chunk-size", "200", "--workers", "1", "--shard-chunks", "2",
                 "--out", str(tmp_path / "ds"), "-q"]) == 0
    sharded = read_table(tmp_path / "ds")
    assert len(list((tmp_path / "ds").glob("part-*.parquet"))) == 3
    assert sharded.names == one.names
    for name in one.names:
        np.testing.assert_allclose(sharded[name], one[name].astype(sharded[name].dtype), equal_nan=True)


def test_oversample_errors(electron, tmp_path, capsys) -> None:
    model, cond = electron
    assert_user_error(capsys, "generate", "--model", model, "--events", 10, "--oversample", 2,
                      "--out", tmp_path / "x.parquet", match="--conditions")
    assert_user_error(capsys, "generate", "--model", model, "--conditions", cond, "--oversample", 0,
                      "--out", tmp_path / "x.parquet", match="oversample")
    assert_user_error(capsys, "generate", "--model", model, "--conditions", cond, "--oversample", 2,
                      "--format", "nanoaod", "--out", tmp_path / "x.root", match="event")
    assert not (tmp_path / "x.parquet").exists()
    with pytest.raises(Exception, match="positive"):
        Oversampled(read_table(cond), 0)
