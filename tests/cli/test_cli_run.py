"""flashgen run from the command line: end to end on tiny settings, skipping, refusal, errors."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest

from flashgen.cli.main import main
from flashgen.data import read_table

from .helpers import assert_user_error, run

TINY = ["--events", "600", "--pileup", "2", "--library-events", "100", "--steps", "20",
        "--factor", "2", "--workers", "1", "--seed", "3", "--ensemble", "1"]


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli-run") / "job"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["run", "--out", str(out), *TINY])
    assert code == 0
    return out, stdout.getvalue()


def _mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "run.json"}


def test_first_run_prints_every_stage_and_the_summary(first) -> None:
    out, text = first
    for stage in ("simulate", "split", "train", "generate", "validate"):
        assert f"] {stage}: done in " in text
    assert "skipped: none" in text
    for needle in ("selected events/s", "events/s to Parquet", "x per analysis-level (selected) event",
                   "x per generated reference event", "MB,", "parameters", "classifier AUC",
                   "worst feature", "report.html", "worth: not stated (a single model"):
        assert needle in text, needle
    selected = json.loads((out / "run.json").read_text())["stages"]["simulate"]["events_selected"]
    assert len(read_table(out / "generated.parquet", columns=["nvtx"])) == math.ceil(2 * selected)
    assert (out / "validation" / "report.html").exists()
    assert (out / "reference" / "_pileup").is_dir()  # --pileup 2 used a pileup library


def test_rerun_skips_every_finished_stage(first, capsys) -> None:
    out, _ = first
    before = _mtimes(out)
    model = (out / "model.pt").read_bytes()
    code, text, _ = run(capsys, "run", "--out", out, *TINY)
    assert code == 0
    assert "skipped: simulate, split, train, generate, validate" in text
    assert text.count("skipped (") == 5 and "done in" not in text
    assert _mtimes(out) == before and (out / "model.pt").read_bytes() == model


def test_a_removed_output_is_redone_alone_and_identically(first, capsys) -> None:
    out, _ = first
    generated = (out / "generated.parquet").read_bytes()
    (out / "generated.parquet").unlink()
    code, text, _ = run(capsys, "run", "--out", out, *TINY, "--workers", "2")  # workers may change
    assert code == 0
    assert "skipped: simulate, split, train" in text
    assert "[4/5] generate: done in" in text and "[5/5] validate: done in" in text
    assert (out / "generated.parquet").read_bytes() == generated  # seeded


def test_changed_settings_are_refused_then_forced(first, capsys) -> None:
    out, _ = first
    state = (out / "run.json").read_text()
    before = _mtimes(out)
    assert_user_error(capsys, "run", "--out", out, *TINY, "--factor", "3",
                      match="factor=2.0 (now 3.0)")
    assert (out / "run.json").read_text() == state and _mtimes(out) == before
    code, text, _ = run(capsys, "run", "--out", out, *TINY, "--factor", "3", "--force")
    assert code == 0
    assert "--force: settings changed (factor=2.0 (now 3.0)); redoing generate, validate" in text
    assert "skipped: simulate, split, train" in text
    selected = json.loads((out / "run.json").read_text())["stages"]["simulate"]["events_selected"]
    assert len(read_table(out / "generated.parquet", columns=["nvtx"])) == math.ceil(3 * selected)
    assert json.loads((out / "run.json").read_text())["settings"]["factor"] == 3.0


def test_quiet_prints_nothing(first, capsys) -> None:
    out, _ = first
    code, text, err = run(capsys, "run", "--out", out, *TINY, "--factor", "3", "--force", "-q")
    assert code == 0 and text == "" and err == ""


def test_error_paths_are_one_line(tmp_path, capsys) -> None:
    (tmp_path / "file.txt").write_text("x")
    assert_user_error(capsys, "run", "--out", tmp_path / "file.txt", *TINY, match="not a directory")
    assert_user_error(capsys, "run", "--out", tmp_path / "missing" / "job", *TINY,
                      match="does not exist")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "data.csv").write_text("1,2")
    assert_user_error(capsys, "run", "--out", tmp_path / "busy", *TINY, match="holds no flashgen run")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    assert_user_error(capsys, "run", "--out", tmp_path / "broken", *TINY, match="unreadable")
    assert_user_error(capsys, "run", "--out", tmp_path / "j", "--events", "0", match="positive integer")
    assert_user_error(capsys, "run", "--out", tmp_path / "j", "--holdout", "1.5", match="between 0 and 1")
    assert_user_error(capsys, "run", "--out", tmp_path / "j", "--model", "vae", match="invalid choice")
    assert not (tmp_path / "j").exists()


def test_too_few_events_to_split_is_a_user_error(tmp_path, capsys) -> None:
    assert_user_error(capsys, "run", "--out", tmp_path / "j", "--events", "4", "--pileup", "0",
                      "--workers", "1", "--steps", "2", match="too few")


def test_help_states_defaults(capsys) -> None:
    code, text, _ = run(capsys, "run", "--help")
    assert code == 0
    text = " ".join(text.split())  # argparse wraps lines
    for needle in ("default ./flashgen-run", "default 20,000", "default 100", "default 0",
                   "default flow", "pileup", "--force", "default 0.25"):
        assert needle in text, needle


# ----------------------------------------------------------------------------- flashgen bench


def test_bench_of_a_model_file_writes_json(first, tmp_path, capsys) -> None:
    out, _ = first
    code, text, _ = run(capsys, "bench", "--model", out / "model.pt", "--events", 3000,
                        "--chunk-size", 1000, "--repeats", 1, "--out", tmp_path / "b.json")
    assert code == 0
    for needle in ("network alone", "physical columns", "to Parquet", "MFLOP per event", "roofline"):
        assert needle in text, needle
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["model"]["path"] == str(out / "model.pt")
    assert result["settings"]["events"] == 3000 and result["settings"]["chunk_size"] == 1000
    assert all(result["rates"][r]["best"] > 0 for r in ("network", "columns", "parquet"))
    assert result["machine"]["cores"] >= 1 and "torch" in result["machine"]["versions"]


def test_bench_quick_built_in_model(tmp_path, capsys) -> None:
    code, text, _ = run(capsys, "bench", "--kind", "gan", "--events", 2000, "--repeats", 1,
                        "--out", tmp_path / "q.json")
    assert code == 0 and "training the quick built-in gan model" in text
    result = json.loads((tmp_path / "q.json").read_text())
    assert result["model"]["kind"] == "gan" and result["model"]["path"].startswith("quick built-in")
    assert result["model"]["preset"] == "zmumu"


def test_bench_errors_are_one_line(first, tmp_path, capsys) -> None:
    import torch

    out, _ = first
    assert_user_error(capsys, "bench", "--model", tmp_path / "none.pt", "--out", tmp_path / "b.json",
                      match="does not exist")
    assert_user_error(capsys, "bench", "--model", out / "model.pt", "--out",
                      tmp_path / "nowhere" / "b.json", match="does not exist")
    assert_user_error(capsys, "bench", "--model", out / "model.pt", "--out", tmp_path,
                      match="is a directory")
    if not torch.cuda.is_available():
        assert_user_error(capsys, "bench", "--model", out / "model.pt", "--device", "cuda",
                          "--out", tmp_path / "b.json", match="no CUDA device")
    assert not (tmp_path / "b.json").exists()


@pytest.mark.slow
def test_default_job_end_to_end(tmp_path, capsys) -> None:
    """The README's main job on its built-in defaults (about 10-15 minutes on 2 cores)."""
    code, text, _ = run(capsys, "run", "--out", tmp_path / "fg")
    assert code == 0
    state = json.loads((tmp_path / "fg" / "run.json").read_text())
    summary = state["summary"]
    assert summary["generation"]["events"] >= 100 * summary["reference"]["events_selected"]
    assert summary["speedup"]["per_selected_event"] > 1
    assert summary["validation"]["classifier_auc"] is not None
    assert "speed-up:" in text
    # the default model is an ensemble and the summary states the sample's worth in m(μμ)
    assert summary["model"]["members"] == 8 and summary["worth"]["n_eff"] > 0
    assert "worth: " in text and "generated events are worth ≈" in text
    assert sum(s for s in summary["stages"].values() if s) < 15 * 60
    _assert_physical_support(tmp_path / "fg", tmp_path / "million.parquet")


def _assert_physical_support(run_dir: Path, out: Path) -> None:
    """10⁶ events of the main job's model: no muon |pz| or E above the 6.5 TeV beam energy,
    none outside the acceptance (both muons |η| ≤ 2.4, pT > 10 GeV), no feature beyond its
    training range widened by the stated margin (the sample of issue 25 had 0.39 % of its
    events with |μ0 pz| > 1 TeV, up to 14 TeV)."""
    import numpy as np

    from flashgen.generation import Sampling, generate
    from flashgen.models import load_model
    from flashgen.sources.zmumu.profile import ACCEPTANCE

    model = load_model(run_dir / "model.pt")
    assert set(model.support) >= {"mu0_pz", "mu0_e", "mu1_pz", "mu1_e"}
    generate(model, out, 1_000_000, sampling=Sampling(seed=7), quiet=True)
    table = read_table(out)
    g = {n: np.asarray(table[n], dtype=np.float64) for n in table.names}
    assert len(g["mu0_pz"]) == 1_000_000
    for name in ("mu0_pz", "mu0_e", "mu1_pz", "mu1_e"):
        assert np.abs(g[name]).max() <= 6500.0, name
    assert ACCEPTANCE.inside(g).all()
    for name, (lo, hi) in model.support.items():
        assert lo <= g[name].min() and g[name].max() <= hi, name
