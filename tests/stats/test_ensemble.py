"""Bootstrap ensembles of flashgen models: member files, resume, sampling with a member column."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.sources.toys import simulate_toy
from flashgen.stats.bands import table_band
from flashgen.stats.ensemble import MANIFEST, Ensemble, member_path, train_ensemble

SETTINGS = dict(preset="camelback", steps=30, seed=5, batch_size=None, device="cpu", quiet=True)


@pytest.fixture(scope="module")
def ensemble_dir(tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("ens") / "camel"
    table = simulate_toy("camelback", 300, 1)
    train_ensemble(table, 3, "flow", out_dir=out, workers=1, **SETTINGS)
    return out, table


def test_members_written_with_manifest(ensemble_dir) -> None:
    out, table = ensemble_dir
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["members"] == 3 and manifest["settings"]["model"] == "flow"
    assert manifest["settings"]["events"] == 300
    assert [p.name for p in sorted(out.glob("member_*.pt"))] == ["member_000.pt", "member_001.pt", "member_002.pt"]


def test_sample_has_integer_member_column(ensemble_dir) -> None:
    out, _ = ensemble_dir
    ens = Ensemble.load(out)
    assert len(ens) == 3
    gen = ens.sample(500, seed=2)
    assert gen.names == ["x", "member"] and len(gen) == 1500
    assert gen["member"].dtype.kind == "i" and np.bincount(gen["member"]).tolist() == [500, 500, 500]
    again = Ensemble.load(out).sample(500, seed=2)
    assert np.array_equal(gen["x"], again["x"])
    # bootstrap members are different models: their samples differ for the same seed stream
    parts = [gen["x"][gen["member"] == i] for i in range(3)]
    assert not np.allclose(np.sort(parts[0]), np.sort(parts[1]))
    band = table_band(gen, "x", np.linspace(-8, 8, 9))
    assert band.members.shape == (3, 8)
    assert np.all(band.lo <= band.center) and np.all(band.center <= band.hi)


def test_resume_skips_valid_members_and_redoes_broken_ones(ensemble_dir) -> None:
    out, table = ensemble_dir
    stamps = {i: os.stat(member_path(out, i)).st_mtime_ns for i in range(3)}
    member_path(out, 1).unlink()
    data = member_path(out, 2).read_bytes()
    member_path(out, 2).write_bytes(data[: len(data) // 2])  # truncated file
    train_ensemble(table, 3, "flow", out_dir=out, workers=1, **SETTINGS)
    assert os.stat(member_path(out, 0)).st_mtime_ns == stamps[0]
    assert member_path(out, 1).is_file()
    assert os.stat(member_path(out, 2)).st_mtime_ns != stamps[2]
    assert len(Ensemble.load(out).sample(10)) == 30


def test_other_settings_are_refused(ensemble_dir) -> None:
    out, table = ensemble_dir
    with pytest.raises(FlashgenError, match="steps=30"):
        train_ensemble(table, 3, "flow", out_dir=out, **{**SETTINGS, "steps": 31})
    with pytest.raises(FlashgenError, match="data_checksum"):
        train_ensemble(simulate_toy("camelback", 300, 2), 3, "flow", out_dir=out, **SETTINGS)


def test_bad_arguments(tmp_path) -> None:
    table = simulate_toy("camelback", 50, 1)
    with pytest.raises(FlashgenError, match="at least 2 members"):
        train_ensemble(table, 1, out_dir=tmp_path / "e")
    with pytest.raises(FlashgenError, match="does not exist"):
        train_ensemble(table, 2, out_dir=tmp_path / "missing" / "e")
    with pytest.raises(FlashgenError, match="not an ensemble folder"):
        Ensemble.load(tmp_path)
    with pytest.raises(FlashgenError, match="missing"):
        Ensemble([tmp_path / "a.pt", tmp_path / "b.pt"])
