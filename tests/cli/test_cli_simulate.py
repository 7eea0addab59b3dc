"""`flashgen simulate`: outputs, the one-line error contract (exit 2, no file left), help, --quiet."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flashgen.cli.main import build_parser, main
from flashgen.data import read_table
from flashgen.sources.electron import DATASET_A
from flashgen.sources.toys import simulate_toy


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``flashgen argv`` in this process; return (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse errors and --help exit through SystemExit
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit code 2 and exactly one stderr line ``flashgen: error: ...`` holding ``fragments``."""
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("flashgen: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def simulate_subparsers() -> dict[str, argparse.ArgumentParser]:
    """Every registered ``flashgen simulate SOURCE`` parser (zmumu too, once it registers)."""
    def choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        raise AssertionError(f"{parser.prog} has no subcommands")

    return choices(choices(build_parser())["simulate"])


# ---------------------------------------------------------------------------------------------
# Outputs


def test_camelback_writes_100_rows_of_x(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.parquet"
    code, stdout, stderr = run(["simulate", "camelback", "--events", "100", "--seed", "3",
                                "--out", str(out)], capsys)
    assert code == 0 and stderr == ""
    assert stdout.startswith(f"wrote 100 events to {out} in ") and stdout.count("\n") == 1
    table = read_table(out)
    assert table.names == ["x"] and len(table) == 100
    np.testing.assert_array_equal(table["x"], simulate_toy("camelback", 100, seed=3)["x"])
    assert table.meta["command"] == "flashgen simulate camelback" and table.meta["seed"] == 3
    assert os.listdir(tmp_path) == ["c.parquet"]  # no temporary file left beside it


def test_ring_writes_x_y_with_width(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.parquet"
    code, _, _ = run(["simulate", "ring", "-n", "2000", "--seed", "4", "--width", "0.2",
                      "-o", str(out), "-q"], capsys)
    assert code == 0
    table = read_table(out)
    assert table.names == ["x", "y"] and len(table) == 2000
    assert table.meta["toy_params"] == {"width": 0.2}
    assert abs(np.hypot(table["x"], table["y"]).std() - 0.2) < 4 * 0.2 / np.sqrt(4000)


@pytest.mark.parametrize("source, columns", [
    ("camelback", ["x"]),
    ("ring", ["x", "y"]),
    ("electron", ["gen_pt", "gen_eta", "gen_phi", "detected", "pt", "eta", "phi"]),
])
def test_root_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str,
                     columns: list[str]) -> None:
    out = tmp_path / "t.root"
    code, _, _ = run(["simulate", source, "--events", "500", "--seed", "1", "--out", str(out)],
                     capsys)
    assert code == 0
    table = read_table(out)
    assert table.names == columns and len(table) == 500
    assert table.meta["command"] == f"flashgen simulate {source}"


def test_electron_fixed_input_and_events_notation(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.parquet"
    code, _, _ = run(["simulate", "electron", "--events", "2e3", "--seed", "2",
                      "--fixed", "4.25,2.5,1.5", "--out", str(out)], capsys)
    assert code == 0
    table = read_table(out)
    assert len(table) == 2000 and table.meta["fixed"] == list(DATASET_A)
    assert np.all(table["gen_pt"] == 4.25) and np.all(table["gen_eta"] == 2.5)
    # Efficiency 0.83 at dataset A's point.
    assert abs(table["detected"].mean() - 0.83) < 4 * np.sqrt(0.83 * 0.17 / 2000)


def test_same_seed_same_file_different_seed_different(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    files = []
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        files.append(tmp_path / f"{name}.parquet")
        assert run(["simulate", "electron", "-n", "3000", "--seed", seed, "-o", str(files[-1]), "-q"],
                   capsys)[0] == 0
    assert files[0].read_bytes() == files[1].read_bytes() != files[2].read_bytes()


def test_existing_output_is_replaced_only_with_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.parquet"
    assert run(["simulate", "camelback", "-n", "50", "-o", str(out), "-q"], capsys)[0] == 0
    before = out.read_bytes()
    code, _, stderr = run(["simulate", "camelback", "-n", "80", "-o", str(out), "-q"], capsys)
    assert_one_line_error(code, stderr, f"{out} exists; pass --force to replace it")
    assert out.read_bytes() == before
    assert run(["simulate", "camelback", "-n", "80", "-o", str(out), "-q", "--force"], capsys)[0] == 0
    assert len(read_table(out)) == 80 and os.listdir(tmp_path) == ["c.parquet"]


# ---------------------------------------------------------------------------------------------
# The error contract: one line on stderr, exit code 2, no output file


ERRORS = {
    "negative events": (["camelback", "--events", "-5"], ["--events", "'-5' must be a positive integer"]),
    "word events": (["camelback", "--events", "abc"], ["--events", "'abc' is not a number"]),
    "zero events": (["camelback", "--events", "0"], ["--events", "'0' must be a positive integer"]),
    "fractional events": (["ring", "--events", "2.5"], ["--events", "positive integer"]),
    "infinite events": (["electron", "--events", "inf"], ["--events", "positive integer"]),
    "nan events": (["electron", "--events", "nan"], ["--events", "positive integer"]),
    "negative seed": (["camelback", "--seed", "-1"], ["--seed", "non-negative integer"]),
    "fractional seed": (["camelback", "--seed", "1.5"], ["--seed", "non-negative integer"]),
    "huge seed": (["camelback", "--seed", str(2**63)], ["--seed", "below 2**63"]),
    "zero width": (["ring", "--width", "0"], ["--width", "must be positive"]),
    "nan width": (["ring", "--width", "nan"], ["--width", "must be finite"]),
    "two fixed values": (["electron", "--fixed", "4.25,2.5"], ["--fixed", "three numbers"]),
    "four fixed values": (["electron", "--fixed", "1,2,3,4"], ["--fixed", "three numbers"]),
    "words as fixed": (["electron", "--fixed", "a,b,c"], ["--fixed", "three numbers"]),
    "empty fixed": (["electron", "--fixed", ""], ["--fixed", "three numbers"]),
    "negative fixed pT": (["electron", "--fixed=-1,0,0"], ["--fixed", "positive pT"]),
    "negative fixed pT, spaced": (["electron", "--fixed", "-1,0,0"], ["--fixed"]),
    "zero fixed pT": (["electron", "--fixed", "0,0,0"], ["--fixed", "positive pT"]),
    "nan fixed pT": (["electron", "--fixed", "nan,0,0"], ["--fixed", "positive pT"]),
    "infinite fixed eta": (["electron", "--fixed", "5,inf,0"], ["--fixed", "finite eta"]),
    "unknown option": (["camelback", "--bogus", "1"], ["unrecognized arguments: --bogus"]),
}


@pytest.mark.parametrize("args, fragments", ERRORS.values(), ids=ERRORS.keys())
def test_bad_option_values(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                           fragments: list[str]) -> None:
    out = tmp_path / "o.parquet"
    code, stdout, stderr = run(["simulate", *args, "--out", str(out)], capsys)
    assert_one_line_error(code, stderr, *fragments)
    assert stdout == ""
    assert os.listdir(tmp_path) == []


def test_missing_out(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run(["simulate", "camelback", "--events", "10"], capsys)
    assert_one_line_error(code, stderr, "the following arguments are required: --out/-o",
                          "see 'flashgen simulate camelback --help'")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv, fragment", [
    (["simulate"], "required: SOURCE"),
    (["simulate", "donut", "--out", "x.parquet"], "invalid choice: 'donut'"),
    ([], "required: COMMAND"),
])
def test_missing_or_unknown_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                       fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run(argv, capsys)
    assert_one_line_error(code, stderr, fragment)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("source", ["camelback", "ring", "electron"])
def test_bad_output_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("a file")
    folder = tmp_path / "d.parquet"
    folder.mkdir()
    cases = {
        blocker / "x.parquet": "cannot write into",  # unwritable: parent is a file (root ignores chmod)
        tmp_path / "missing" / "x.parquet": "does not exist; create it first",
        folder: "is a directory; give a file name",
        tmp_path: "is a directory; give a file name",
        tmp_path / "x.csv": "unknown table format '.csv'; use .parquet or .root",
        tmp_path / "x": "unknown table format ''",
    }
    for target, fragment in cases.items():
        code, stdout, stderr = run(["simulate", source, "-n", "10", "--out", str(target)], capsys)
        assert_one_line_error(code, stderr, fragment)
        assert stdout == ""
    assert sorted(os.listdir(tmp_path)) == ["d.parquet", "somefile"]
    assert os.listdir(folder) == [] and blocker.read_text() == "a file"


def test_failed_run_leaves_existing_output_untouched(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e.parquet"
    assert run(["simulate", "electron", "-n", "100", "-o", str(out), "-q"], capsys)[0] == 0
    before = out.read_bytes()
    code, _, stderr = run(["simulate", "electron", "-n", "100", "--fixed", "nan,1,1", "-o", str(out),
                           "--force"], capsys)
    assert_one_line_error(code, stderr, "--fixed needs a positive pT")
    assert out.read_bytes() == before and os.listdir(tmp_path) == ["e.parquet"]


def test_out_of_memory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import flashgen.sources.electron as electron

    def no_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(electron, "simulate_electrons", no_memory)
    code, _, stderr = run(["simulate", "electron", "-n", "1e12", "-o", str(tmp_path / "e.parquet")],
                          capsys)
    assert_one_line_error(code, stderr, "not enough memory", "--events")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Help and --quiet


@pytest.mark.parametrize("source", sorted(simulate_subparsers()))
def test_help_states_defaults_and_units(capsys: pytest.CaptureFixture[str], source: str) -> None:
    code, stdout, stderr = run(["simulate", source, "--help"], capsys)
    assert code == 0 and stderr == ""
    assert stdout.startswith(f"usage: flashgen simulate {source}")
    for action in simulate_subparsers()[source]._actions:
        if isinstance(action, argparse._HelpAction) or action.required:
            continue  # a required option has no default; the usage line shows it unbracketed
        assert "default" in (action.help or "").lower(), \
            f"help of {'/'.join(action.option_strings)} states no default: {action.help!r}"
    units = {"camelback": ["dimensionless"], "ring": ["dimensionless"], "electron": ["GeV", "rad"]}
    for unit in units.get(source, ["GeV"]):
        assert unit in stdout


def test_simulate_help_lists_sources_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["simulate", "--help"], capsys)
    assert code == 0
    for name in ("camelback", "ring", "electron", "GeV", "rad"):
        assert name in stdout


@pytest.mark.parametrize("source", ["camelback", "ring", "electron"])
def test_quiet_prints_nothing_on_success(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         source: str) -> None:
    out = tmp_path / "q.parquet"
    assert run(["simulate", source, "-n", "1000", "--out", str(out), "--quiet"], capsys) == (0, "", "")
    assert len(read_table(out)) == 1000


# ---------------------------------------------------------------------------------------------
# The installed command, as users call it


def flashgen_command() -> list[str]:
    exe = shutil.which("flashgen", path=os.path.dirname(sys.executable)) or shutil.which("flashgen")
    return [exe] if exe else [sys.executable, "-m", "flashgen.cli.main"]


def test_installed_command_success_and_error(tmp_path: Path) -> None:
    ok = subprocess.run([*flashgen_command(), "simulate", "camelback", "--events", "100", "--seed",
                         "3", "--out", "c.parquet"], cwd=tmp_path, capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("wrote 100 events to c.parquet") and ok.stderr == ""
    assert len(read_table(tmp_path / "c.parquet")) == 100

    quiet = subprocess.run([*flashgen_command(), "simulate", "ring", "-n", "100", "-o", "r.root",
                            "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")

    bad = subprocess.run([*flashgen_command(), "simulate", "electron", "--events", "inf", "--out",
                          "e.parquet"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert_one_line_error(bad.returncode, bad.stderr, "--events")
    assert sorted(os.listdir(tmp_path)) == ["c.parquet", "r.root"]
