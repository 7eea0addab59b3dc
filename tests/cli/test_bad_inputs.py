"""Bad inputs never lose data nor give garbage with exit 0: one line, exit 2, nothing left behind,
no input modified (issue: never lose data). Each case failed on the code before this suite."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from flashgen.data import EventTable, write_table

from .helpers import assert_user_error, run


def _digest(path: Path) -> str:
    if path.is_dir():
        return "".join(_digest(p) for p in sorted(path.rglob("*")) if p.is_file())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def camel(tmp_path: Path) -> Path:
    path = tmp_path / "c.parquet"
    assert run_ok(["simulate", "camelback", "--events", "400", "--out", path]) == 0
    return path


def run_ok(argv: list[object]) -> int:
    from flashgen.cli.main import main

    return main([str(a) for a in [*argv, "--quiet"]])


@pytest.fixture
def camel_model(tmp_path: Path, camel: Path) -> Path:
    out = tmp_path / "m.pt"
    assert run_ok(["train", "--data", camel, "--model", "flow", "--preset", "camelback", "--steps",
                   "20", "--out", out]) == 0
    return out


# ----------------------------------------------------------------------------- 1. data loss


def test_train_refuses_to_overwrite_its_data(capsys, camel: Path) -> None:
    before = _digest(camel)
    assert_user_error(capsys, "train", "--data", camel, "--model", "flow", "--out", camel,
                      match="would overwrite the input")
    assert _digest(camel) == before


def test_validate_refuses_a_report_folder_that_is_an_input(capsys, tmp_path: Path, camel: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    write_table(EventTable({"x": np.arange(50.0)}), folder / "shard-0.parquet")
    before = _digest(folder)
    assert_user_error(capsys, "validate", "--reference", folder, "--generated", camel, "--out", folder,
                      match="would overwrite the input")
    assert _digest(folder) == before


# ----------------------------------------------------------------------------- 2. NaN learnt as garbage


def test_nan_features_are_refused_with_the_rule_and_the_fix(capsys, tmp_path: Path) -> None:
    data = tmp_path / "el.parquet"
    assert run_ok(["simulate", "electron", "--events", "3000", "--out", data]) == 0
    for model in ("flow", "gan"):
        assert_user_error(capsys, "train", "--data", data, "--model", model, "--features", "pt",
                          "--steps", "5", "--out", tmp_path / "m.pt", match="column 'pt' has")
    assert not (tmp_path / "m.pt").exists()
    assert _left(tmp_path) == ["el.parquet"]


def test_diverging_training_is_an_error(capsys, tmp_path: Path, camel: Path) -> None:
    assert_user_error(capsys, "train", "--data", camel, "--model", "gan", "--steps", "200",
                      "--set", "lr=1e30", "--out", tmp_path / "m.pt", match="training diverged at step")
    assert not (tmp_path / "m.pt").exists() and not list(tmp_path.glob(".*"))


# ----------------------------------------------------------------------------- 5. crashes


def test_val_fraction_zero_keeps_the_last_snapshot(capsys, tmp_path: Path) -> None:
    data = tmp_path / "el.parquet"
    assert run_ok(["simulate", "electron", "--events", "3000", "--out", data]) == 0
    out = tmp_path / "m.pt"
    code, _, err = run(capsys, "train", "--data", data, "--model", "flow", "--preset", "electron",
                       "--val-fraction", "0", "--steps", "20", "--out", out, "--quiet")
    assert code == 0, err
    from flashgen.models import FlashModel

    info = FlashModel.load(out).info
    assert info["val_events"] == 0 and info["result"]["best_step"] == 20


def _never(calls: list[str], name: str):  # type: ignore[no-untyped-def]
    """A stand-in for an expensive step that records that it was reached."""
    def called(*args: object, **kwargs: object) -> None:
        calls.append(name)
        raise AssertionError(f"{name} ran: the request was not refused up front")
    return called


def test_a_batch_larger_than_the_data_is_refused_before_training(capsys, tmp_path: Path, camel: Path,
                                                                 monkeypatch) -> None:
    from flashgen.training.trainer import Trainer

    calls: list[str] = []
    monkeypatch.setattr(Trainer, "fit", _never(calls, "training"))
    assert_user_error(capsys, "train", "--data", camel, "--model", "flow", "--batch-size", "1000000000",
                      "--out", tmp_path / "m.pt", match="batch size 1,000,000,000 is larger than the 320")
    assert calls == [] and _left(tmp_path) == ["c.parquet"]  # no model, no checkpoint


# ----------------------------------------------------------------------------- 6. leftovers, bounds


def test_sigterm_cleans_temporaries_and_stale_ones_are_removed(tmp_path: Path, camel_model: Path) -> None:
    out = tmp_path / "g.parquet"
    stale = tmp_path / ".g.parquet.k1ll3d.tmp"
    stale.write_bytes(b"left by a hard kill")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "flashgen.cli.main", "generate", "--model",
                             str(camel_model), "--events", "50000000", "--out", str(out), "--quiet"],
                            stderr=subprocess.PIPE, text=True, env=env)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        # the write has begun: a fresh temporary file exists (the wait ends when it appears; the
        # deadline only keeps a hung command from hanging the suite)
        deadline = time.monotonic() + 600
        while not any(p.name != stale.name for p in tmp_path.glob(".g.parquet.*.tmp")):
            assert proc.poll() is None, f"the command ended before writing: {''.join(err)}"
            assert time.monotonic() < deadline, "no temporary file appeared in 10 minutes"
            time.sleep(0.05)
        # The handler is installed before any temporary can exist, so one signal suffices; should
        # one still be lost, signal again until its effect (the "terminated" line, or the exit) is
        # seen. Once the handler ran, further signals are ignored: the clean-up finishes.
        for _ in range(20):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                if any("terminated" in line for line in err):
                    proc.wait(timeout=120)
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    assert proc.returncode == 143 and "terminated" in "".join(err), (proc.returncode, err)
    assert not out.exists() and not list(tmp_path.glob(".g.parquet*")), _left(tmp_path)


def test_the_sigterm_handler_is_installed_before_any_command_runs(monkeypatch) -> None:
    import flashgen.cli.main as cli

    seen: list[object] = []

    def parser():  # type: ignore[no-untyped-def]
        seen.append(signal.getsignal(signal.SIGTERM))
        raise SystemExit(2)

    monkeypatch.setattr(cli, "build_parser", parser)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit):
        cli.main(["generate"])
    assert seen == [cli._terminate]  # before the parsers (and torch) are imported, let alone any file
    assert signal.getsignal(signal.SIGTERM) == before  # restored when main returns


def test_too_many_repeats_are_refused(capsys, tmp_path: Path, camel: Path) -> None:
    assert_user_error(capsys, "validate", "--reference", camel, "--generated", camel, "--out",
                      tmp_path / "v", "--repeats", "100000", match="more than 1,000")


# ----------------------------------------------------------------------------- 7. messages


def test_overflowing_ring_width_is_one_line(capsys, tmp_path: Path) -> None:
    assert_user_error(capsys, "simulate", "ring", "--width", "1e308", "--out", tmp_path / "r.parquet",
                      match="width must be positive and at most 1000")
    assert _left(tmp_path) == []


def test_non_finite_input_names_the_file_and_the_fix(capsys, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1.0, float("nan"), 3.0]}), path)
    assert_user_error(capsys, "train", "--data", path, "--model", "flow", "--out", tmp_path / "m.pt",
                      match=f"{path}: column 'x' has 1 NaN/inf value(s) where none are allowed (of 3 rows); remove")


def test_bad_hyperparameter_names_the_choices_not_python(capsys, tmp_path: Path, camel: Path) -> None:
    code, _, err = run(capsys, "train", "--data", camel, "--model", "flow", "--set", "bogus=3",
                       "--out", tmp_path / "m.pt")
    assert code == 2 and "unknown flow setting 'bogus'; known: transforms" in err and "__init__" not in err


BAD_SETTINGS = [
    ("flow", "transforms=0", "bad flow setting transforms=0: must be an integer >= 1"),
    ("flow", "transforms=-1", "bad flow setting transforms=-1: must be an integer >= 1"),
    ("flow", "transforms=2.5", "bad flow setting transforms=2.5: must be an integer >= 1"),
    ("flow", "lr=nan", "bad flow setting lr=nan: must be a finite number > 0"),
    ("flow", "lr=inf", "bad flow setting lr=inf: must be a finite number > 0"),
    ("flow", "lr=abc", "bad flow setting lr=abc: must be a finite number > 0"),
    ("flow", "lr=-1", "bad flow setting lr=-1: must be a finite number > 0"),
    ("flow", "lr=0", "bad flow setting lr=0: must be a finite number > 0"),
    ("flow", "weight_decay=-1", "bad flow setting weight_decay=-1: must be a finite number >= 0"),
    ("flow", "bins=0", "bad flow setting bins=0: must be an integer >= 2"),
    ("flow", "hidden=abc", "bad flow setting hidden=abc: must be integers >= 1 separated by commas"),
    ("flow", "hidden=64,-1", "bad flow setting hidden=64,-1: must be integers >= 1"),
    ("flow", "coupling=abc", "bad flow setting coupling=abc: must be true or false"),
    ("flow", "colour=3", "unknown flow setting 'colour'; known: transforms, hidden, bins"),
    ("gan", "lr=-1", "bad gan setting lr=-1: must be a finite number > 0"),
    ("gan", "betas=0.5", "bad gan setting betas=0.5: must be 2 numbers in [0, 1)"),
    ("gan", "optimizer=sgd", "bad gan setting optimizer=sgd: must be one of adam, adadelta"),
    ("gan", "dropout=1", "bad gan setting dropout=1: must be a finite number in [0, 1)"),
    ("wgan-gp", "critic_steps=0", "bad wgan-gp setting critic_steps=0: must be an integer >= 1"),
]


@pytest.mark.parametrize(("model", "setting", "message"), BAD_SETTINGS,
                         ids=[f"{m}-{s}" for m, s, _ in BAD_SETTINGS])
def test_a_bad_setting_is_one_line_naming_it_the_value_and_what_is_allowed(
        capsys, tmp_path: Path, camel: Path, model: str, setting: str, message: str) -> None:
    assert_user_error(capsys, "train", "--data", camel, "--model", model, "--set", setting,
                      "--steps", "2", "--out", tmp_path / "m.pt", match=message)
    assert not (tmp_path / "m.pt").exists()


def test_settings_given_as_text_parse_into_their_types(capsys, tmp_path: Path, camel: Path) -> None:
    from flashgen.models import FlashModel

    code, _, err = run(capsys, "train", "--data", camel, "--model", "flow", "--set", "hidden=8x8",
                       "--set", "transforms=2", "--set", "coupling=false", "--set", "lr=2e-3",
                       "--steps", "2", "--out", tmp_path / "m.pt", "--quiet")
    assert code == 0, err
    config = FlashModel.load(tmp_path / "m.pt").network.config
    assert (config.hidden, config.transforms, config.coupling, config.lr) == ((8, 8), 2, False, 2e-3)


def test_unwritable_outputs_name_the_output_not_a_hidden_file(capsys, camel: Path) -> None:
    code, _, err = run(capsys, "train", "--data", camel, "--model", "flow", "--out", "/proc/m.pt")
    assert code == 2 and "/proc/m.pt" in err and "/proc/." not in err and ".tmp" not in err


def test_a_folder_is_not_a_model_file(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "ens"
    folder.mkdir()
    assert_user_error(capsys, "generate", "--model", folder, "--events", "10", "--out",
                      tmp_path / "g.parquet", match="is a folder, not a model file")


# ----------------------------------------------------------------------------- generation


@pytest.fixture(scope="module")
def electron_model(tmp_path_factory) -> tuple[Path, Path]:
    from flashgen.cli.main import main

    folder = tmp_path_factory.mktemp("electron")
    data, model = folder / "el.parquet", folder / "el.pt"
    assert main(["simulate", "electron", "--events", "20000", "--out", str(data), "--quiet"]) == 0
    assert main(["train", "--data", str(data), "--model", "flow", "--preset", "electron", "--steps", "30",
                 "--set", "transforms=1", "--set", "hidden=16,16", "--out", str(model), "--quiet"]) == 0
    return data, model


def test_generate_refuses_to_overwrite_its_conditions(capsys, electron_model) -> None:
    data, model = electron_model
    before = _digest(data)
    assert_user_error(capsys, "generate", "--model", model, "--conditions", data, "--out", data,
                      match="would overwrite the input")
    assert _digest(data) == before


def test_events_with_conditions_is_an_error(capsys, tmp_path: Path, electron_model) -> None:
    data, model = electron_model
    assert_user_error(capsys, "generate", "--model", model, "--conditions", data, "--events", "100",
                      "--out", tmp_path / "g.parquet", match="give --events or --conditions, not both")


def test_conditions_outside_the_training_domain_are_refused_or_counted(capsys, tmp_path: Path,
                                                                      electron_model) -> None:
    _, model = electron_model
    cond = tmp_path / "far.parquet"
    # pT = 1e6 GeV (trained on 0-20) and pT = 15 GeV at |eta| = 1.8 (dataset B never has it)
    write_table(EventTable({"gen_pt": np.array([1e6, 15.0] * 50 + [3.0] * 100),
                            "gen_eta": np.array([0.0, 1.8] * 50 + [0.3] * 100),
                            "gen_phi": np.full(200, 1.0)}), cond)
    out = tmp_path / "g.parquet"
    assert_user_error(capsys, "generate", "--model", model, "--conditions", cond, "--out", out,
                      match="100 of 200 condition rows (50.00%) lie outside the model's training domain: "
                            "50 outside the training ranges, 50 where no training row was")
    assert not out.exists()
    code, _, err = run(capsys, "generate", "--model", model, "--conditions", cond, "--out", out,
                       "--allow-extrapolation", "--quiet")
    assert code == 0 and out.exists()
    assert err.startswith("flashgen: warning: 100 of 200 condition rows") and err.count("\n") == 1


def test_requests_beyond_the_free_disk_are_refused_up_front(capsys, tmp_path: Path, camel_model: Path,
                                                            monkeypatch) -> None:
    import flashgen.data
    import flashgen.generation

    calls: list[str] = []
    monkeypatch.setattr(flashgen.generation, "generate_columns", _never(calls, "generation"))
    monkeypatch.setattr(flashgen.data.TableWriter, "__enter__", _never(calls, "writing"))
    for extra in ([], ["--workers", "1"]):
        assert_user_error(capsys, "generate", "--model", camel_model, "--events", "1e15", "--out",
                          tmp_path / "g.parquet", *extra, match="GB free; ask for fewer events")
    assert calls == [] and _left(tmp_path) == ["c.parquet", "m.pt"]


def test_a_model_that_generates_nan_is_an_error_not_a_file(capsys, tmp_path: Path, camel_model: Path) -> None:
    import torch

    from flashgen.models import FlashModel

    broken = FlashModel.load(camel_model)
    with torch.no_grad():
        for p in broken.network.parameters():
            p.fill_(float("nan"))
    path = broken.save(tmp_path / "broken.pt")
    out = tmp_path / "g.parquet"
    assert_user_error(capsys, "generate", "--model", path, "--events", "100", "--out", out,
                      match="the model generated 100 non-finite value(s) of 'x'")
    assert not out.exists() and not list(tmp_path.glob(".g.parquet*"))


def test_validate_names_the_columns_it_skips(capsys, tmp_path: Path) -> None:
    ref, gen = tmp_path / "r.parquet", tmp_path / "g.parquet"
    rng = np.random.default_rng(1)
    write_table(EventTable({"a": rng.normal(size=500), "b": rng.normal(size=500)}), ref)
    write_table(EventTable({"a": rng.normal(size=500)}), gen)
    code, out, _ = run(capsys, "validate", "--reference", ref, "--generated", gen, "--out", tmp_path / "v",
                       "--repeats", "2")
    assert code == 0 and "note: reference column(s) b not in the generated table: not compared" in out
    metrics = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert metrics["summary"]["skipped_columns"] == ["b"]
    assert "reference column(s) b not in the generated table" in (tmp_path / "v" / "report.html").read_text()


def test_a_killed_validation_leaves_nothing_after_the_next_run(capsys, tmp_path: Path, camel: Path) -> None:
    stale = tmp_path / ".v.abc123.tmp"
    stale.mkdir()
    (stale / "hist_x.png").write_bytes(b"half a figure")
    code, _, _ = run(capsys, "validate", "--reference", camel, "--generated", camel, "--out", tmp_path / "v",
                     "--repeats", "2", "--quiet")
    assert code == 0 and not stale.exists() and (tmp_path / "v" / "report.html").is_file()


def test_nan_conditions_are_refused_too(capsys, tmp_path: Path) -> None:
    data = tmp_path / "el.parquet"
    assert run_ok(["simulate", "electron", "--events", "3000", "--out", data]) == 0
    assert_user_error(capsys, "train", "--data", data, "--model", "flow", "--features", "gen_pt",
                      "--conditions", "pt", "--steps", "5", "--out", tmp_path / "m.pt",
                      match="column 'pt' has")
    assert _left(tmp_path) == ["el.parquet"]


@pytest.mark.parametrize("argv", [
    ["simulate", "camelback", "--events", "-5", "--out", "{tmp}/x.parquet"],
    ["train", "--data", "{tmp}/missing.parquet", "--model", "flow", "--out", "{tmp}/m.pt"],
    ["generate", "--model", "{tmp}/missing.pt", "--events", "10", "--out", "{tmp}/g.parquet"],
    ["validate", "--reference", "{tmp}/missing.parquet", "--generated", "{tmp}/missing.parquet",
     "--out", "{tmp}/v"],
    ["amplify", "--out", "{tmp}/a.txt"],
    ["bench", "--model", "{tmp}/missing.pt", "--out", "{tmp}/b.json"],
    ["run", "--out", "{tmp}/afile", "--events", "10"],
], ids=lambda argv: argv[0])
def test_every_command_fails_in_one_line_and_leaves_nothing(capsys, tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "afile").write_text("mine")
    before = _left(tmp_path)
    code, _, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("flashgen: error:"), err
    assert _left(tmp_path) == before and (tmp_path / "afile").read_text() == "mine"
