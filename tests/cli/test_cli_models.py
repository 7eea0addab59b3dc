"""flashgen train / generate from the command line: outputs, seeds, resume and error contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flashgen.cli.main import main
from flashgen.data import read_table, write_table
from flashgen.sources.electron import simulate_electrons

from .helpers import assert_user_error, run


@pytest.fixture(scope="module")
def camel(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("camel")
    assert main(["simulate", "camelback", "--events", "300", "--seed", "3", "--out", str(d / "c.parquet"), "-q"]) == 0
    assert main(["train", "--data", str(d / "c.parquet"), "--model", "flow", "--preset", "camelback",
                 "--steps", "60", "--out", str(d / "m.pt"), "-q"]) == 0
    return d


def test_train_generate_round_trip(camel, tmp_path, capsys) -> None:
    code, out, _ = run(capsys, "generate", "--model", camel / "m.pt", "--events", 2500, "--seed", 5,
                       "--out", tmp_path / "g.parquet", "--chunk-size", 1000)
    assert code == 0 and "2,500 events" in out and "events/s" in out
    table = read_table(tmp_path / "g.parquet")
    assert table.names == ["x"] and len(table) == 2500
    assert table.meta["producer"] == "flashgen generate (flow)" and table.meta["seed"] == 5
    assert table.meta["model"]["train_events"] == 300


def test_same_seed_gives_an_identical_file(camel, tmp_path) -> None:
    for name in ("a", "b"):
        assert main(["generate", "--model", str(camel / "m.pt"), "--events", "3000", "--seed", "9",
                     "--out", str(tmp_path / f"{name}.parquet"), "-q"]) == 0
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert main(["generate", "--model", str(camel / "m.pt"), "--events", "3000", "--seed", "10",
                 "--out", str(tmp_path / "c.parquet"), "-q"]) == 0
    assert not np.array_equal(read_table(tmp_path / "a.parquet")["x"], read_table(tmp_path / "c.parquet")["x"])


def test_root_output(camel, tmp_path) -> None:
    assert main(["generate", "--model", str(camel / "m.pt"), "--events", "100", "--out", str(tmp_path / "g.root"), "-q"]) == 0
    assert len(read_table(tmp_path / "g.root")) == 100


def test_resume_of_a_finished_model_does_nothing(camel, capsys) -> None:
    before = (camel / "m.pt").read_bytes()
    code, out, _ = run(capsys, "train", "--data", camel / "c.parquet", "--model", "flow", "--preset",
                       "camelback", "--steps", "60", "--out", camel / "m.pt", "--resume")
    assert code == 0 and "nothing to resume" in out
    assert (camel / "m.pt").read_bytes() == before


def test_conditional_generation_copies_conditions(tmp_path, capsys) -> None:
    data = simulate_electrons(4000, seed=2)
    write_table(data, tmp_path / "e.parquet")
    assert main(["train", "--data", str(tmp_path / "e.parquet"), "--model", "flow", "--preset", "electron",
                 "--steps", "40", "--out", str(tmp_path / "e.pt"), "-q"]) == 0
    cond = simulate_electrons(500, seed=3).select(["gen_pt", "gen_eta", "gen_phi"])
    write_table(cond, tmp_path / "cond.parquet")
    assert main(["generate", "--model", str(tmp_path / "e.pt"), "--conditions", str(tmp_path / "cond.parquet"),
                 "--out", str(tmp_path / "g.parquet"), "-q"]) == 0
    g = read_table(tmp_path / "g.parquet")
    assert g.names == ["gen_pt", "gen_eta", "gen_phi", "detected", "pt", "eta", "phi"]
    np.testing.assert_array_equal(g["gen_pt"], cond["gen_pt"])
    det = g["detected"] == 1
    assert 0.5 < det.mean() < 1 and np.isnan(g["pt"][~det]).all() and (g["pt"][det] > 0).all()
    # eta is unchanged by the detector; generated columns are stored in float32 (conditions as given)
    assert g["eta"].dtype == np.float32 and g["gen_eta"].dtype == np.float64
    np.testing.assert_array_equal(g["eta"][det], cond["gen_eta"][det].astype(np.float32))
    assert_user_error(capsys, "generate", "--model", tmp_path / "e.pt", "--events", 10,
                      "--out", tmp_path / "x.parquet", match="conditional")
    write_table(cond.select(["gen_pt"]), tmp_path / "short.parquet")
    assert_user_error(capsys, "generate", "--model", tmp_path / "e.pt", "--conditions", tmp_path / "short.parquet",
                      "--out", tmp_path / "x.parquet", match="gen_eta")
    assert not (tmp_path / "x.parquet").exists()


def test_error_contract(camel, tmp_path, capsys) -> None:
    data = camel / "c.parquet"
    assert_user_error(capsys, "train", "--data", tmp_path / "none.parquet", "--model", "flow",
                      "--out", tmp_path / "m.pt", match="does not exist")
    assert_user_error(capsys, "train", "--data", data, "--model", "vae", "--out", tmp_path / "m.pt",
                      match="invalid choice")
    assert_user_error(capsys, "train", "--data", data, "--model", "flow", "--set", "bins", "--out",
                      tmp_path / "m.pt", match="name=value")
    assert_user_error(capsys, "train", "--data", data, "--model", "flow", "--set", "colour=3",
                      "--steps", "2", "--out", tmp_path / "m.pt", match="unknown flow setting 'colour'")
    assert_user_error(capsys, "train", "--data", data, "--model", "flow", "--features", "y",
                      "--out", tmp_path / "m.pt", match="unknown column")
    assert_user_error(capsys, "train", "--data", data, "--model", "flow", "--out", tmp_path,
                      match="is a directory")
    assert_user_error(capsys, "train", "--data", data, "--model", "flow", "--steps", "-3",
                      "--out", tmp_path / "m.pt", match="positive integer")
    assert not (tmp_path / "m.pt").exists()
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    assert_user_error(capsys, "generate", "--model", tmp_path / "bad.pt", "--events", 10,
                      "--out", tmp_path / "g.parquet", match="not a readable flashgen model")
    assert_user_error(capsys, "generate", "--model", camel / "m.pt", "--out", tmp_path / "g.parquet",
                      match="--events")
    assert_user_error(capsys, "generate", "--model", camel / "m.pt", "--events", 10,
                      "--out", tmp_path / "g.csv", match="unknown table format")
    assert not (tmp_path / "g.parquet").exists()


def test_each_papers_model_is_one_command(camel, tmp_path) -> None:
    """--model gan --preset camelback is the amplification paper's GAN; the file it writes
    generates the same events for the same seed (dropout masks are drawn from the seed) and
    differs for another."""
    model = tmp_path / "gan.pt"
    assert main(["train", "--data", str(camel / "c.parquet"), "--model", "gan", "--preset", "camelback",
                 "--steps", "3", "--out", str(model), "-q"]) == 0
    from flashgen.models import load_model

    net = load_model(model).network
    assert net.hparams["latent"] == 1000 and net.hparams["dropout"] == 0.5
    assert net.hparams["batch_statistics"] == 32 and net.uniform_latent
    out = [tmp_path / f"{k}.parquet" for k in "abc"]
    for path, seed in zip(out, (4, 4, 5)):
        assert main(["generate", "--model", str(model), "--events", "500", "--seed", str(seed),
                     "--out", str(path), "-q"]) == 0
    a, b, c = (read_table(p)["x"] for p in out)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    data = tmp_path / "el.parquet"
    write_table(simulate_electrons(3000, seed=1), data)
    assert main(["train", "--data", str(data), "--model", "wgan-gp", "--preset", "electron", "--steps", "3",
                 "--out", str(tmp_path / "w.pt"), "-q"]) == 0
    w = load_model(tmp_path / "w.pt").network
    assert w.hparams["lr"] == 1e-3 and w.hparams["latent"] == 100 and w.hparams["one_sided"]
