"""``flashgen train --plan / --preprocess`` and ``flashgen inspect``: the automatic preprocessing
of a table without a preset, shown before training and stored in the model file."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashgen.data import write_table
from flashgen.models import load_model
from flashgen.sources.toys import simulate_toy

from .helpers import assert_user_error, run


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("plan") / "mixed.parquet"
    write_table(simulate_toy("mixed", 2000, 3), path)
    return path


def test_plan_prints_every_column_and_trains_nothing(capsys, mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    code, text, err = run(capsys, "train", "-d", mixed, "-m", "flow", "-o", out, "--plan")
    assert code == 0 and err == "" and not out.exists() and list(tmp_path.iterdir()) == []
    lines = dict(line.split(": ", 1) for line in text.splitlines()[1:-1])
    assert lines["weight"].startswith("constant") and lines["phi"].startswith("angle")
    assert lines["iso"].startswith("point_mass+log") and lines["tight"].startswith("integer")
    assert lines["btag"].startswith("logit") and lines["pt"].startswith("log")
    code, text, _ = run(capsys, "train", "-d", mixed, "-m", "flow", "--plan", "--preprocess", "pt=standard")
    assert code == 0 and "pt: standard (override)" in text  # --plan needs no --out
    assert_user_error(capsys, "train", "-d", mixed, "-m", "flow", "--steps", 5, match="give --out FILE")


def test_the_chosen_plan_is_stored_and_inspect_prints_it(capsys, mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    code, _, err = run(capsys, "train", "-d", mixed, "-m", "flow", "-o", out, "--steps", 20, "-q",
                       "--preprocess", "pt=standard")
    assert code == 0, err
    plan = load_model(out).info["plan"]
    assert plan  # plain data, what inspect reads
    code, text, err = run(capsys, "inspect", out)
    assert code == 0 and err == ""
    assert "flow model, preset none" in text and "pt: standard (override)" in text
    assert "weight: constant" in text and "training range:" in text


@pytest.mark.parametrize("extra, match", [
    (["--preprocess", "nope=log"], "unknown column(s) 'nope'"),
    (["--preprocess", "pt=banana"], "unknown kind(s) 'banana'"),
    (["--preprocess", "pt"], "must look like column=kind"),
    (["--preprocess", "pt=log", "--preset", "camelback"], "brings its own"),
])
def test_bad_preprocessing_choices_are_one_line(capsys, mixed: Path, tmp_path: Path, extra, match) -> None:
    assert_user_error(capsys, "train", "-d", mixed, "-m", "flow", "-o", tmp_path / "m.pt", "--steps", 5, *extra,
                      match=match)
    assert list(tmp_path.iterdir()) == []


def test_inspect_of_a_missing_or_foreign_file_is_one_line(capsys, mixed: Path, tmp_path: Path) -> None:
    assert_user_error(capsys, "inspect", tmp_path / "none.pt", match="does not exist")
    assert_user_error(capsys, "inspect", mixed, match="")


def test_every_ensemble_member_keeps_the_override(capsys, mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.pt"
    code, _, err = run(capsys, "train", "-d", mixed, "-m", "flow", "-o", out, "--steps", 10, "-q",
                       "--ensemble", 4, "--preprocess", "pt=standard")
    assert code == 0, err
    kinds = [{c["name"]: c["kind"] for c in m.info["plan"]["columns"]} for m in load_model(out).members]
    assert len(kinds) == 4 and all(k["pt"] == "standard" and k["phi"] == "angle" for k in kinds)
