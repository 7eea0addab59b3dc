"""The main job as a library (flashgen.job): stages, split, seeds, state file, summary."""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from flashgen.data import read_table
from flashgen.errors import FlashgenError
from flashgen.models import EnsembleModel, load_model
from flashgen.cli.run import summary_lines
from flashgen.job import RUN_FILE, STAGES, RunSettings, run_pipeline, stage_seed

TINY = RunSettings(events=600, seed=5, pileup=0.0, steps=20, factor=3.0, workers=1,
                   validation_events=5000)


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> tuple[Path, dict, list[str]]:
    out = tmp_path_factory.mktemp("job") / "run"
    lines: list[str] = []
    summary = run_pipeline(out, TINY, quiet=True, log=lines.append)
    return out, summary, lines


def test_stage_seeds_are_reproducible_and_independent() -> None:
    assert stage_seed(7, "simulate") == 7
    seeds = [stage_seed(7, s) for s in STAGES[1:]]
    assert seeds == [stage_seed(7, s) for s in STAGES[1:]]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**63 for s in seeds)
    assert stage_seed(8, "train") != stage_seed(7, "train")


@pytest.mark.parametrize("bad", [dict(events=0), dict(factor=0.0), dict(factor=math.inf),
                                 dict(holdout=1.0), dict(holdout=0.0), dict(model="vae"),
                                 dict(seed=-1), dict(pileup=-1.0), dict(steps=0),
                                 dict(validation_events=0), dict(workers=0)])
def test_bad_settings_are_user_errors(bad) -> None:
    with pytest.raises(FlashgenError):
        RunSettings(**bad)


def test_workers_do_not_define_the_outputs() -> None:
    assert "workers" not in RunSettings().identity()
    assert RunSettings(workers=1).identity() == RunSettings(workers=2).identity()


def test_every_stage_ran_and_was_recorded(job) -> None:
    out, summary, lines = job
    assert summary["skipped"] == []
    assert set(summary["this_run"]) == set(STAGES)
    assert all(summary["this_run"][s] >= 0 for s in STAGES)
    state = json.loads((out / RUN_FILE).read_text())
    assert state["settings"] == TINY.identity()
    assert set(state["stages"]) == set(STAGES)
    assert state["summary"]["generation"]["events"] == summary["generation"]["events"]
    assert [line.split(":")[0] for line in lines if line.endswith(" s")] == [
        f"[{i}/5] {s}" for i, s in enumerate(STAGES, 1)]


def test_split_is_a_seeded_partition_of_the_reference(job) -> None:
    out, summary, _ = job
    reference = read_table(out / "reference")
    train = read_table(out / "reference-train.parquet")
    held = read_table(out / "reference-heldout.parquet")
    assert len(train) + len(held) == len(reference) == summary["reference"]["events_selected"]
    assert len(held) == round(TINY.holdout * len(reference))
    key = ["mu0_px", "mu0_pz", "mu1_pz"]
    rows = {tuple(r) for r in reference.to_numpy(key)}
    train_rows = {tuple(r) for r in train.to_numpy(key)}
    held_rows = {tuple(r) for r in held.to_numpy(key)}
    assert train_rows | held_rows == rows and not train_rows & held_rows
    perm = np.random.default_rng(stage_seed(TINY.seed, "split")).permutation(len(reference))
    expected = np.sort(perm[:len(held)])
    np.testing.assert_array_equal(held["mu0_px"], reference["mu0_px"][expected])
    assert held.meta["split"]["part"] == "held-out"


def test_model_is_an_ensemble_trained_on_the_training_part_only(job) -> None:
    out, summary, _ = job
    model = load_model(out / "model.pt")
    train = read_table(out / "reference-train.parquet", columns=["nvtx"])
    assert isinstance(model, EnsembleModel) and len(model) == 8
    assert model.info["ensemble"]["train_events"] == len(train) == summary["model"]["train_events"]
    for member in model.members:  # each on a bootstrap resample, snapshots on the rows left out
        assert member.info["train_events"] == len(train)
        assert member.info["config"]["steps"] == 20
    assert summary["model"]["members"] == 8
    assert summary["model"]["parameters"] == model.n_parameters()
    assert summary["model"]["file_mb"] == pytest.approx((out / "model.pt").stat().st_size / 1e6)
    assert not (out / ".model.pt.ckpt").exists()


def test_generation_size_and_speedup_arithmetic(job) -> None:
    out, summary, _ = job
    selected = summary["reference"]["events_selected"]
    generated = read_table(out / "generated.parquet")
    assert len(generated) == math.ceil(3.0 * selected) == summary["generation"]["events"]
    ref, gen, speed = summary["reference"], summary["generation"], summary["speedup"]
    assert ref["selected_events_per_second"] == pytest.approx(
        ref["generated_events_per_second"] * selected / ref["events_generated"])
    assert speed["per_selected_event"] == pytest.approx(
        gen["events_per_second"] / ref["selected_events_per_second"])
    assert speed["per_generated_event"] == pytest.approx(
        gen["events_per_second"] / ref["generated_events_per_second"])
    # simulating the selected events took longer per event than simulating generated ones
    assert speed["per_selected_event"] > speed["per_generated_event"]


def test_validation_compares_held_out_with_generated(job) -> None:
    out, summary, _ = job
    metrics = json.loads((out / "validation" / "metrics.json").read_text())
    held = read_table(out / "reference-heldout.parquet", columns=["nvtx"])
    assert metrics["samples"]["reference"]["n_used"] == len(held)
    assert metrics["samples"]["generated"]["n_used"] == summary["generation"]["events"]
    assert (out / "validation" / "report.html").exists()
    worst = summary["validation"]["worst_feature"]
    ks = {k.split("/", 1)[1]: v["ks_stat"] for k, v in metrics["metrics"].items()
          if k.startswith("feature/") and v.get("ks_stat") is not None}
    assert worst["name"] in ks and worst["ks_stat"] == max(ks.values())
    text = "\n".join(summary_lines(summary))
    assert "speed-up:" in text and worst["name"] in text
    # the sample states its worth in m(μμ): n_eff over the whole generated sample
    worth = summary["worth"]
    assert worth["generated_events"] == summary["generation"]["events"] and worth["members"] == 8
    assert worth["amplification"] == pytest.approx(worth["n_eff"] / worth["train_events"])
    assert f"worth: {worth['line']}" in text and "generated events are worth ≈" in text
    assert "mll" in metrics["worth"] and 'id="worth-table"' in (out / "validation" / "report.html").read_text()


def test_a_finished_job_is_skipped_whole(job) -> None:
    out, first, _ = job
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != RUN_FILE}
    summary = run_pipeline(out, TINY, quiet=True)
    assert summary["skipped"] == list(STAGES)
    assert all(v is None for v in summary["this_run"].values())
    assert summary["stages"] == first["stages"]
    assert summary["speedup"] == first["speedup"]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != RUN_FILE} == before


def test_other_settings_are_refused_without_force(job) -> None:
    out, _, _ = job
    with pytest.raises(FlashgenError, match=r"factor=3\.0 \(now 4\.0\)"):
        run_pipeline(out, RunSettings(**{**TINY.identity(), "factor": 4.0, "workers": 1}))
    assert json.loads((out / RUN_FILE).read_text())["settings"]["factor"] == 3.0


def test_a_foreign_folder_is_refused(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FlashgenError, match="holds no flashgen run"):
        run_pipeline(tmp_path, TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# ----------------------------------------------------------------------------- flashgen.speed
# (the speed measurements behind flashgen bench and benchmarks/), and benchmarks/common.py


@functools.cache
def bench_common() -> ModuleType:
    """``benchmarks/common.py``, the benchmark scripts' shared helpers, imported from its path."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "common.py"
    spec = importlib.util.spec_from_file_location("flashgen_benchmarks_common", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_multiply_adds_of_a_gan_are_its_generator_layers(job) -> None:
    from flashgen.speed import linear_macs_per_event
    from flashgen.training import TrainSettings, train

    out, _, _ = job
    model = train(read_table(out / "reference-train.parquet"), "gan", preset="zmumu",
                  settings=TrainSettings(steps=2, snapshot_every=2))
    hp = model.network.hparams
    sizes = [hp["latent"], *hp["generator_hidden"], hp["features"]]
    expected = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    assert linear_macs_per_event(model) == expected  # the discriminator is not run
    assert linear_macs_per_event(model, n=37) == expected


def test_flow_multiply_adds_per_event_do_not_depend_on_the_batch(job) -> None:
    from flashgen.speed import linear_macs_per_event

    model = load_model(job[0] / "model.pt").members[0]
    macs = linear_macs_per_event(model, n=64)
    assert macs > 0 and macs == linear_macs_per_event(model, n=256)
    # at most one evaluation of every linear layer per transform and event
    weights = sum(m.weight.numel() for m in model.network.modules()
                  if isinstance(getattr(m, "weight", None), torch.Tensor) and hasattr(m, "in_features"))
    assert macs <= weights


def test_speed_benchmark_of_a_model_file(job, tmp_path) -> None:
    from flashgen.speed import speed_benchmark
    from flashgen.files import write_json

    result = speed_benchmark(job[0] / "model.pt", events=3000, chunk_size=1000, repeats=2,
                             roofline=1e10)
    from flashgen.sources.zmumu.schema import FEATURES

    assert result["model"]["kind"] == "flow" and result["model"]["columns"] == len(FEATURES)
    assert result["model"]["ensemble_members"] == 8  # one member's rate is the ensemble's
    for rate in ("network", "columns", "parquet"):
        r = result["rates"][rate]
        assert 0 < r["median"] <= r["best"]
        assert r["best"] == pytest.approx(3000 / r["seconds"])
    assert result["roofline_fraction"] == pytest.approx(
        result["flops_per_event"] * result["rates"]["network"]["best"] / 1e10)
    path = write_json(result, tmp_path / "b.json")
    assert json.loads(path.read_text())["settings"]["events"] == 3000


def test_benchmark_results_are_written_as_json_and_markdown(tmp_path) -> None:
    command_line, write_results = bench_common().command_line, bench_common().write_results

    folder = tmp_path / "new" / "results"
    paths = write_results({"rate": 1.5, "path": tmp_path}, "# table\n", folder, "speed")
    assert paths == (folder / "speed.json", folder / "speed.md")
    assert json.loads(paths[0].read_text()) == {"rate": 1.5, "path": str(tmp_path)}
    assert paths[1].read_text() == "# table\n"
    assert sorted(p.name for p in folder.iterdir()) == ["speed.json", "speed.md"]  # no temporaries
    assert command_line("bench_x.py", ["--data", "a b"]) == "python benchmarks/bench_x.py --data 'a b'"
    assert command_line("bench_x.py", []) == "python benchmarks/bench_x.py"


def test_time_rate_counts_events_per_wall_second() -> None:
    import time

    from flashgen.speed import time_rate

    calls = []

    def work() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 500

    r = time_rate(work, repeats=3)
    assert len(calls) == 4  # warm-up + 3
    assert 5000 < r["best"] <= 10_000 and r["seconds"] >= 0.05


def test_roofline_is_a_positive_rate() -> None:
    from flashgen.speed import matmul_roofline

    threads = torch.get_num_threads()
    assert 1e8 < matmul_roofline(size=256, repeats=2) < 1e14
    assert torch.get_num_threads() == threads  # restored


def test_half_sample_mode_and_sigma_eff(rng) -> None:
    from flashgen.studies.estimators import half_sample_mode, sigma_eff

    gauss = rng.normal(1.0, 2.0, 40_000)
    assert half_sample_mode(gauss) == pytest.approx(1.0, abs=0.15)
    assert sigma_eff(gauss) == pytest.approx(2.0, rel=0.03)
    gamma = rng.gamma(3.0, 1.0, 40_000)  # mode (k - 1) theta = 2
    assert half_sample_mode(gamma) == pytest.approx(2.0, abs=0.25)
    assert half_sample_mode(np.array([5.0, 5.0, 9.0])) == 5.0
    # a window keeps the core: 68.3 % of the events inside it
    wide = np.concatenate([rng.normal(0, 1, 20_000), rng.uniform(-50, 50, 2000)])
    assert sigma_eff(wide, (-5, 5)) < sigma_eff(wide)
    assert np.isnan(sigma_eff(np.array([1.0])))


def test_mll_peak_and_width_of_the_reference(job) -> None:
    r = bench_common().mll_peak_width(read_table(job[0] / "reference"), bootstrap=10)
    assert 88 < r["peak"] < 94  # the Z peak, 91.19 GeV
    assert 1 < r["width"] < 8  # Γ_Z / 2 ⊕ muon resolution
    assert r["peak_err"] > 0 and r["width_err"] > 0
