"""``flashgen amplify``: outputs, summary table, one-line errors without partial files."""

from __future__ import annotations

import json

import pytest

from flashgen.cli.main import main


def test_amplify_writes_json_plot_and_markdown(tmp_path, capsys) -> None:
    out, plot, md = tmp_path / "amp.json", tmp_path / "amp.png", tmp_path / "amp.md"
    rc = main(["amplify", "--toy", "ring", "--train-events", "50", "--quantiles", "10,20", "--repeats", "3",
               "--models", "fit,kde,truth", "--generated", "100,1e3", "--workers", "1", "--seed", "3",
               "--out", str(out), "--plot", str(plot), "--markdown", str(md)])
    assert rc == 0
    payload = json.loads(out.read_text())
    assert payload["toy"] == "ring" and payload["n_train"] == 50 and payload["generated"] == [100, 1000]
    assert payload["grids"] == {"10": [2, 5], "20": [4, 5]}
    assert {r["method"] for r in payload["summary"]} == {"train", "sampled", "fit", "kde", "truth"}
    assert plot.stat().st_size > 10_000 and "| K | method |" in md.read_text()
    text = capsys.readouterr().out
    assert "n_equiv" in text and " fit " in text and " kde " in text and "wrote" in text


def test_amplify_quiet_prints_nothing(tmp_path, capsys) -> None:
    rc = main(["amplify", "--quiet", "--models", "fit", "--repeats", "2", "--quantiles", "10",
               "--generated", "100", "--workers", "1", "--out", str(tmp_path / "a.json")])
    assert rc == 0 and capsys.readouterr().out == ""
    assert (tmp_path / "a.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--models", "fit,vae"], "unknown model(s) vae"),
    (["--repeats", "1"], "--repeats must be at least 2"),
    (["--quantiles", "1"], "--quantiles must all be at least 2"),
    (["--quantiles", "ten"], "not a number"),
    (["--generated", "0"], "positive integer"),
    (["--toy", "donut"], "invalid choice"),
    (["--train-events", "3", "--models", "fit"], "at least 6 training events"),
    (["--models", "flow", "--preset", "nope"], "unknown preset 'nope'"),
])
def test_amplify_errors_are_one_line(tmp_path, capsys, args, message) -> None:
    out = tmp_path / "a.json"
    with pytest.raises(SystemExit) as exc:
        code = main(["amplify", "--out", str(out), "--workers", "1", *args])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("flashgen: error:") and err.count("\n") == 1 and message in err
    assert not out.exists()


@pytest.mark.parametrize("out, message", [
    ("a.txt", "must end in .json"),
    ("missing/a.json", "does not exist"),
])
def test_amplify_bad_output_paths(tmp_path, capsys, out, message) -> None:
    rc = main(["amplify", "--models", "fit", "--out", str(tmp_path / out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("flashgen: error:") and message in err


def test_amplify_help_states_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["amplify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for piece in ("default camelback", "default 100)", "default 10,20,50", "default 20)",
                  "default fit,flow,gan", "default 100,1000,10000", "default 0)", "10 = 2x5"):
        assert piece in text
