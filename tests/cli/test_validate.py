"""``flashgen validate``: outputs, summary, --quiet, options and one-line user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flashgen.cli.main import main
from flashgen.data import EventTable, write_table
from flashgen.sources.electron import simulate_electrons
from flashgen.sources.toys import simulate_toy


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tables")
    paths = {
        "ring_ref": d / "ring_ref.parquet", "ring_gen": d / "ring_gen.root",
        "electron_ref": d / "e_ref.parquet", "electron_gen": d / "e_gen.parquet",
        "other": d / "other.parquet",
    }
    write_table(simulate_toy("ring", 3000, 1), paths["ring_ref"])
    gen = simulate_toy("ring", 3000, 2)
    gen.meta["command"] = "flashgen generate --model ring.pt"
    write_table(gen, paths["ring_gen"])
    write_table(simulate_electrons(4000, 1), paths["electron_ref"])
    write_table(simulate_electrons(4000, 2), paths["electron_gen"])
    write_table(EventTable({"z": np.arange(10.0)}), paths["other"])
    return paths


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flashgen: error: "), err
    return err[0]


def test_validate_writes_report_and_prints_a_summary(tables, tmp_path, capsys) -> None:
    out = tmp_path / "rep"
    rc = main(["validate", "--reference", str(tables["ring_ref"]), "--generated",
               str(tables["ring_gen"]), "--out", str(out), "--repeats", "3", "--seed", "4"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "compared 3,000 generated with 3,000 reference events" in text
    assert "classifier AUC" in text and f"{out}/report.html" in text
    assert {"report.html", "metrics.json", "hist_x.png", "hist_y.png", "correlation.png"} <= {
        p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["seed"] == 4 and metrics["settings"]["repeats"] == 3
    assert metrics["samples"]["generated"]["meta"]["command"] == "flashgen generate --model ring.pt"
    assert metrics["summary"]["counts"]["fail"] == 0


def test_the_default_cap_on_generated_events_is_stated(tables, tmp_path, capsys, monkeypatch) -> None:
    import flashgen.cli.validate as validate_cli
    from flashgen.cli.main import build_parser

    args = build_parser().parse_args(["validate", "-r", "r.parquet", "-g", "g.parquet", "-o", "v"])
    assert args.max_events == validate_cli.DEFAULT_MAX_EVENTS == 100_000  # a cap by default
    monkeypatch.setattr(validate_cli, "DEFAULT_MAX_EVENTS", 1000)  # below these tables' 3,000 events
    rc = main(["validate", "--reference", str(tables["ring_ref"]), "--generated", str(tables["ring_gen"]),
               "--out", str(tmp_path / "rep"), "--repeats", "2"])
    assert rc == 0
    assert ("compared 1,000 of 3,000 generated (--max-events 1,000) with 1,000 of 3,000 reference "
            "(--max-events 1,000) events in ") in capsys.readouterr().out
    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert metrics["settings"]["max_events"] == 1000
    assert metrics["samples"]["generated"]["n_used"] == 1000 and metrics["samples"]["generated"]["n_events"] == 3000


def test_validate_quiet_features_and_max_events(tables, tmp_path, capsys) -> None:
    out = tmp_path / "rep"
    rc = main(["validate", "-r", str(tables["electron_ref"]), "-g", str(tables["electron_gen"]),
               "-o", str(out), "--features", "pt,detected,gen_pt", "--max-events", "1500",
               "--repeats", "2", "--quiet"])
    assert rc == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["features"] == ["pt", "detected", "gen_pt"]
    assert metrics["samples"]["reference"]["n_used"] == 1500
    assert metrics["settings"]["observables"] == ["pt_response"]


@pytest.mark.parametrize("case, pattern", [
    ("missing", "does not exist"),
    ("no_common", "no column in common"),
    ("out_is_file", "not a directory"),
    ("unknown_feature", "not in both tables: nope"),
    ("bad_parent", "does not exist; create it first"),
])
def test_validate_user_errors_are_one_line(tables, tmp_path, capsys, case, pattern) -> None:
    ref, gen, out = str(tables["ring_ref"]), str(tables["ring_gen"]), tmp_path / "rep"
    extra: list[str] = []
    if case == "missing":
        ref = str(tmp_path / "nothing.parquet")
    elif case == "no_common":
        gen = str(tables["other"])
    elif case == "out_is_file":
        out.write_text("precious")
    elif case == "unknown_feature":
        extra = ["--features", "x,nope"]
    elif case == "bad_parent":
        out = tmp_path / "no" / "such" / "rep"
    rc = main(["validate", "-r", ref, "-g", gen, "-o", str(out), "--repeats", "2", *extra])
    assert rc == 2
    assert pattern in _one_error_line(capsys)
    if case == "out_is_file":
        assert out.read_text() == "precious"
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("args", [["--max-events", "0"], ["--seed", "-1"], ["--features", "a,,b"],
                                  ["--repeats", "x"]])
def test_validate_bad_option_values(tables, tmp_path, capsys, args) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["validate", "-r", str(tables["ring_ref"]), "-g", str(tables["ring_gen"]),
              "-o", str(tmp_path / "rep"), *args])
    assert exc.value.code == 2
    _one_error_line(capsys)


def test_validate_repeats_below_two_is_an_error(tables, tmp_path, capsys) -> None:
    rc = main(["validate", "-r", str(tables["ring_ref"]), "-g", str(tables["ring_gen"]),
               "-o", str(tmp_path / "rep"), "--repeats", "1"])
    assert rc == 2 and "repeats" in _one_error_line(capsys)


def test_validate_help_states_units_and_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("GeV", "rad", "(default 0)", "(default 10)", "default 100,000",
                   "report.html", "metrics.json", "--quiet"):
        assert phrase in text


def test_fail_on_fail_gives_a_script_an_exit_status(tables, tmp_path, capsys) -> None:
    """`--fail-on fail` exits with 1 when a check fails (report written), 0 when none does."""
    shifted = simulate_toy("ring", 3000, 3)
    shifted.data["x"] = shifted["x"] + 0.3
    write_table(shifted, tmp_path / "shifted.parquet")
    same = ["validate", "--reference", str(tables["ring_ref"]), "--generated", str(tables["ring_gen"]),
            "--repeats", "3", "--quiet", "--fail-on", "fail"]
    assert main([*same, "--out", str(tmp_path / "same")]) == 0
    bad = ["validate", "--reference", str(tables["ring_ref"]), "--generated", str(tmp_path / "shifted.parquet"),
           "--repeats", "3", "--quiet"]
    assert main([*bad, "--out", str(tmp_path / "bad1"), "--fail-on", "fail"]) == 1
    assert (tmp_path / "bad1" / "report.html").is_file()
    assert main([*bad, "--out", str(tmp_path / "bad2")]) == 0  # default: never
    capsys.readouterr()
