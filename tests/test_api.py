"""The notebook API (:mod:`flashgen.api`): the worked example of docs/python.md runs, samples are
reproducible and typed, conditions reach the model, ``validate`` and ``worth`` give the numbers
of the commands, and bad inputs raise one clear :class:`FlashgenError`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import flashgen
from flashgen import EventTable, FlashgenError, api
from flashgen.data import Column, read_table, write_table

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python.md"
SMALL = {"transforms": 2, "hidden": (16, 16), "bins": 4}
CODE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _jets(n: int, seed: int) -> EventTable:
    rng = np.random.default_rng(seed)
    njet = rng.poisson(3.0, n)
    return EventTable({"pt": np.exp(3.2 + 0.15 * njet + 0.5 * rng.standard_normal(n)),
                       "eta": rng.normal(0.0, 1.5, n), "njet": njet},
                      {"pt": Column("pt", "GeV", "leading jet transverse momentum")})


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """One unconditional flow, one of pt, eta given njet, and an ensemble of 4, each trained for
    100 steps on 2,000 toy jets without a preset."""
    from flashgen.training import Columns, TrainSettings, train
    from flashgen.training.bootstrap import train_ensemble

    folder = tmp_path_factory.mktemp("api")
    table = _jets(2000, 1)
    quick = TrainSettings(steps=100, batch_size=256, seed=1)
    train(table, "flow", config=SMALL, settings=quick).save(folder / "m.pt")
    train(table, "flow", columns=Columns(["pt", "eta"], ["njet"]), config=SMALL,
          settings=quick).save(folder / "c.pt")
    train_ensemble(table, 4, "flow", out=folder / "e.pt", config=SMALL, settings=quick)
    write_table(table, folder / "train.parquet")
    return {"m": folder / "m.pt", "c": folder / "c.pt", "e": folder / "e.pt", "dir": folder}


def test_the_worked_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every python block of docs/python.md, in order, in one namespace: the page cannot rot."""
    import matplotlib

    matplotlib.use("Agg")
    blocks = CODE.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6, "docs/python.md lost its worked example"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_python"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
    # the "done when": a model trained without a preset, sampled in one line
    assert len(flashgen.load("m.pt").sample(1000, seed=1)["pt"]) == 1000
    import matplotlib.pyplot as plt

    plt.close("all")


def test_import_stays_light_and_names_are_public() -> None:
    code = ("import sys, flashgen; heavy = [m for m in ('torch', 'sklearn', 'flashgen.api') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "", f"import flashgen loads {out.strip()}"
    assert flashgen.load is api.load and flashgen.validate is api.validate and flashgen.worth is api.worth
    assert {"load", "validate", "worth"} <= set(flashgen.__all__) and "load" in dir(flashgen)
    with pytest.raises(AttributeError):
        flashgen.no_such_name  # noqa: B018


def test_defaults_are_the_commands() -> None:
    from flashgen.cli.validate import DEFAULT_MAX_EVENTS

    assert api.DEFAULT_MAX_EVENTS == DEFAULT_MAX_EVENTS


def test_surrogate_describes_itself(models: dict[str, Path]) -> None:
    s = flashgen.load(models["m"])
    assert s.kind == "flow" and s.features == ["pt", "eta", "njet"] and s.conditions == [] and s.members == 1
    assert s.training_events == 1600 and s.units["pt"] == "GeV" and s.info["preset"] is None
    text = repr(s)
    for part in ("flow", "pt [GeV]", "eta", "njet", "unconditional", "1,600 events", "1 member", "m.pt"):
        assert part in text, text
    e = flashgen.load(models["e"])
    assert e.members == 4 and e.training_events == 2000 and e.columns[-1] == "member"
    assert "4 members" in repr(e) and "2,000 events" in repr(e)
    c = flashgen.Surrogate(flashgen.load(models["c"]).model)
    assert c.conditions == ["njet"] and "conditions njet" in repr(c) and c.path is None


def test_sample_is_reproducible_by_seed_and_is_generation_sample(models: dict[str, Path]) -> None:
    from flashgen.generation import sample

    s = flashgen.load(models["m"])
    a, b, other = s.sample(500, seed=3), s.sample(500, seed=3), s.sample(500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(a["pt"], other["pt"])
    direct = sample(s.model, 500, seed=3)
    for name in direct.names:
        np.testing.assert_array_equal(a[name].to_numpy(), direct[name])


def test_dataframe_columns_dtypes_and_attrs(models: dict[str, Path]) -> None:
    s = flashgen.load(models["m"])
    frame = s.sample(300, seed=1)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 300
    assert list(frame.columns) == ["pt", "eta", "njet"]
    assert frame["pt"].dtype == np.float64 and frame["eta"].dtype == np.float64 and frame["njet"].dtype == np.int64
    assert (frame["njet"] >= 0).all() and (frame["pt"] > 0).all()
    back = api.as_table(frame)  # units and the model's provenance travel in attrs
    assert back.unit("pt") == "GeV" and back.meta["model"]["train_events"] == 1600 and back.meta["seed"] == 1
    e = flashgen.load(models["e"]).sample(400, seed=1)
    assert list(e.columns) == ["pt", "eta", "njet", "member"] and e["member"].dtype == np.int16
    assert sorted(e["member"].value_counts().to_list()) == [100, 100, 100, 100]


def test_awkward_numpy_and_table_formats(models: dict[str, Path]) -> None:
    ak = pytest.importorskip("awkward")
    s = flashgen.load(models["m"])
    frame = s.sample(200, seed=2)
    jets = s.sample(200, seed=2, format="awkward")
    assert isinstance(jets, ak.Array) and ak.fields(jets) == ["pt", "eta", "njet"] and len(jets) == 200
    np.testing.assert_array_equal(ak.to_numpy(jets.pt), frame["pt"].to_numpy())
    assert str(jets.njet.type.content) == "int64"
    arrays = s.sample(200, seed=2, format="numpy")
    assert isinstance(arrays, dict) and list(arrays) == ["pt", "eta", "njet"]
    np.testing.assert_array_equal(arrays["eta"], frame["eta"].to_numpy())
    table = s.sample(200, seed=2, format="table")
    assert isinstance(table, EventTable) and table.unit("pt") == "GeV" and table.meta["model_file"] == str(models["m"])
    back = api.as_table(jets)  # an awkward sample keeps its schema too
    assert back.unit("pt") == "GeV" and back.names == ["pt", "eta", "njet"]


def test_conditions_for_a_conditional_model(models: dict[str, Path]) -> None:
    c = flashgen.load(models["c"])
    rows = pd.DataFrame({"njet": [0, 2, 4, 6, 8], "other": [1.0] * 5})  # other columns are ignored
    frame = c.sample(conditions=rows, seed=1)
    assert list(frame.columns) == ["njet", "pt", "eta"] and frame["njet"].tolist() == [0, 2, 4, 6, 8]
    same = c.sample(5, conditions={"njet": np.array([0, 2, 4, 6, 8])}, seed=1)
    pd.testing.assert_frame_equal(frame, same)
    from_table = c.sample(conditions=EventTable({"njet": np.array([0, 2, 4, 6, 8])}), seed=1)
    pd.testing.assert_frame_equal(frame, from_table)
    write_table(EventTable({"njet": np.array([0, 2, 4, 6, 8])}), models["dir"] / "cond.parquet")
    pd.testing.assert_frame_equal(frame, c.sample(conditions=str(models["dir"] / "cond.parquet"), seed=1))
    fixed = c.sample(2000, conditions={"njet": 6}, seed=1)
    low = c.sample(2000, conditions={"njet": 0}, seed=1)
    assert (fixed["njet"] == 6).all() and len(fixed) == 2000
    assert fixed["pt"].median() > low["pt"].median()  # the model learnt that pT rises with njet
    with pytest.warns(UserWarning, match="outside the model's training domain"):
        c.sample(conditions={"njet": np.array([0, 1, 2, 40])}, allow_extrapolation=True)


@pytest.mark.parametrize("call, match", [
    (lambda s, c: s.sample(0), "at least 1"),
    (lambda s, c: s.sample(-5), "at least 1"),
    (lambda s, c: s.sample(2.5), "must be an integer"),
    (lambda s, c: s.sample(True), "must be an integer"),
    (lambda s, c: s.sample(np.int64(0)), "at least 1"),
    (lambda s, c: s.sample(), "give the number of events"),
    (lambda s, c: s.sample(10, format="polars"), "unknown format 'polars'"),
    (lambda s, c: s.sample(10, seed=-1), "seed"),
    (lambda s, c: s.sample(10, seed=1.5), "seed"),
    (lambda s, c: s.sample(10, conditions={"njet": 3}), "unconditional"),
    (lambda s, c: c.sample(10), "conditional: give conditions with column(s) njet"),
    (lambda s, c: c.sample(conditions={"nJet": np.arange(3)}), "lack column(s) njet"),
    (lambda s, c: c.sample(conditions=pd.DataFrame({"pt": [1.0]})), "lack column(s) njet; the model needs njet"),
    (lambda s, c: c.sample(conditions={"njet": 3}), "need the number of events"),
    (lambda s, c: c.sample(4, conditions={"njet": np.arange(3)}), "3 rows but n=4"),
    (lambda s, c: c.sample(conditions=[1, 2, 3]), "cannot read the conditions from a list"),
    (lambda s, c: c.sample(conditions={"njet": np.array([1, 2, 40, 50])}), "outside the model's training domain"),
])
def test_sample_refuses_bad_inputs(models: dict[str, Path], call, match: str) -> None:
    s, c = flashgen.load(models["m"]), flashgen.load(models["c"])
    with pytest.raises(FlashgenError, match=re.escape(match)):
        call(s, c)


def test_load_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(FlashgenError, match="does not exist"):
        flashgen.load(tmp_path / "missing.pt")
    (tmp_path / "table.pt").write_bytes(b"not a model")
    with pytest.raises(FlashgenError, match="not a readable flashgen model file"):
        flashgen.load(tmp_path / "table.pt")
    with pytest.raises(FlashgenError, match="unknown device"):
        flashgen.load(tmp_path / "table.pt", device="tpu")
    with pytest.raises(FlashgenError, match="wraps a FlashModel"):
        flashgen.Surrogate("m.pt")


def test_validate_gives_the_numbers_of_the_command(models: dict[str, Path], capsys) -> None:
    from flashgen.cli.main import main

    folder = models["dir"]
    s = flashgen.load(models["m"])
    write_table(_jets(600, 9), folder / "ref.parquet")
    write_table(s.sample(600, seed=5, format="table"), folder / "gen.parquet")
    assert main(["validate", "-r", str(folder / "ref.parquet"), "-g", str(folder / "gen.parquet"),
                 "--repeats", "2", "--seed", "3", "--out", str(folder / "cli-report"), "-q"]) == 0
    capsys.readouterr()
    on_disk = json.loads((folder / "cli-report" / "metrics.json").read_text())
    result = flashgen.validate(folder / "ref.parquet", str(folder / "gen.parquet"), repeats=2, seed=3)
    assert json.loads(json.dumps(result.metrics)) == {k: v for k, v in on_disk.items() if k != "files"}
    assert result.report is None and result.verdict == on_disk["summary"]["verdict"]
    assert result.auc == on_disk["classifier"]["auc"] and 0 <= result.auc <= 1
    fpd = on_disk["metrics"]["global/frechet"]["fpd"]
    assert result.fpd == fpd and result.fpd_floor == on_disk["resolution"]["global/frechet"]["fpd"]["mean"]
    assert result.passed == (on_disk["summary"]["counts"]["fail"] == 0)
    assert result.failed == on_disk["summary"]["failed"] and len(result.checks) == on_disk["summary"]["n_checks"]
    assert result.verdict in repr(result) and "FPD" in repr(result)


def test_validate_takes_any_sample_and_writes_a_report_on_request(models: dict[str, Path], tmp_path: Path) -> None:
    s = flashgen.load(models["m"])
    ref, gen = _jets(300, 4), s.sample(300, seed=8)
    quick = {"repeats": 2, "classifier": False, "features": ["pt"]}  # one feature: no whole-event distances
    as_frame = flashgen.validate(ref, gen, **quick)
    as_dict = flashgen.validate({n: ref[n] for n in ref.names}, s.sample(300, seed=8, format="awkward"), **quick)
    for key in ("metrics", "checks", "summary", "resolution"):  # a dict has no units nor descriptions
        assert as_frame.metrics[key] == as_dict.metrics[key], key
    assert as_frame.auc is None and as_frame.metrics["settings"]["features"] == ["pt"]
    written = flashgen.validate(ref, gen, out=tmp_path / "report", **quick)
    assert written.report == tmp_path / "report" / "report.html" and written.report.is_file()
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["summary"] == written.metrics["summary"]
    with pytest.raises(FlashgenError, match="earlier report.*force=True"):
        flashgen.validate(ref, gen, out=tmp_path / "report", **quick)


@pytest.mark.parametrize("kwargs, match", [
    ({"repetitions": 3}, "unknown validation setting(s) repetitions; choose from features"),
    ({"repeats": 1}, "repeats must be between 2"),
    ({"max_events": 0}, "max_events must be positive"),
    ({"features": ["pt", "mass"]}, "feature(s) not in both tables: mass"),
])
def test_validate_refuses_bad_settings(kwargs, match: str) -> None:
    ref = _jets(50, 1)
    with pytest.raises(FlashgenError, match=re.escape(match)):
        flashgen.validate(ref, ref, **kwargs)


def test_validate_refuses_what_is_not_a_sample(tmp_path: Path) -> None:
    with pytest.raises(FlashgenError, match="cannot read the reference from a int"):
        flashgen.validate(3, _jets(50, 1))
    with pytest.raises(FlashgenError, match="does not exist"):
        flashgen.validate(tmp_path / "nothing.parquet", _jets(50, 1))


def test_worth_hist_carries_the_inherited_variance(models: dict[str, Path], capsys) -> None:
    import hist

    from flashgen.cli.main import main
    from flashgen.stats.histogram_worth import equal_population_edges, worth_of_sample

    e = flashgen.load(models["e"])
    table = e.sample(8000, seed=2, format="table")
    frame = e.sample(8000, seed=2)
    w = flashgen.worth(frame, "pt", 10)
    edges = equal_population_edges(table["pt"], 10)
    expected = worth_of_sample(table["pt"], table["member"], edges, train_events=2000, observable="pt",
                               groups=[0, 0, 1, 1])
    h = w.hist
    assert isinstance(h, hist.Hist) and h.storage_type is hist.storage.Weight
    np.testing.assert_array_equal(h.axes[0].edges, edges)
    np.testing.assert_allclose(h.values(), expected.fraction, rtol=1e-12)
    np.testing.assert_allclose(h.variances(), expected.sigma**2, rtol=1e-12)
    assert h.axes[0].label == "pt [GeV]" and not h.axes[0].traits.underflow
    assert w.n_eff == pytest.approx(expected.n_eff) and w.amplification == pytest.approx(expected.n_eff / 2000)
    assert w.bins == 10 and w.training_events == 2000 and w.members == 4 and w.generated_events == 8000
    np.testing.assert_allclose(w.n_eff_bins, expected.n_eff_bins)
    scaled = w.to_hist(events=500)
    np.testing.assert_allclose(scaled.values(), expected.fraction * 500)
    np.testing.assert_allclose(scaled.variances(), (expected.sigma * 500) ** 2)
    assert "8,000 generated events are worth" in str(w) and "10 equal-population bins of pt" in str(w)
    # the command gives the same numbers for the same sample
    write_table(table, models["dir"] / "ens.parquet")
    assert main(["worth", "-g", str(models["dir"] / "ens.parquet"), "--observable", "pt", "--bins", "10",
                 "--out", str(models["dir"] / "w.json"), "-q"]) == 0
    capsys.readouterr()
    cli = json.loads((models["dir"] / "w.json").read_text())
    ours = w.to_json()
    for key in ("edges", "fraction", "sigma", "n_eff", "amplification", "train_events", "members"):
        np.testing.assert_allclose(np.asarray(ours[key], dtype=float), np.asarray(cli[key], dtype=float),
                                   rtol=1e-6, err_msg=key)  # float32 on disk
    assert w.pyhf("signal", events=100)["name"] == "signal"
    assert w.reliable is True and w.warning is None
    with pytest.warns(UserWarning) as caught:  # 2 training events per bin: as the command warns
        sparse = flashgen.worth(frame, "pt", 10, training_events=20)
    assert sparse.reliable is False and sparse.warning and str(caught[0].message) == sparse.warning
    # edges, an explicit training size, a path and an awkward sample
    given = flashgen.worth(str(models["dir"] / "ens.parquet"), "pt", [0, 20, 40, 80, 1e4], training_events=4000)
    assert given.bins == 4 and given.training_events == 4000 and "(given edges)" in given.binning
    ak_sample = flashgen.worth(e.sample(8000, seed=2, format="awkward"), "pt", 10)
    assert ak_sample.n_eff == pytest.approx(w.n_eff)


@pytest.mark.parametrize("call, match", [
    (lambda e, s: flashgen.worth(e, "mass", 10), "unknown observable 'mass'"),
    (lambda e, s: flashgen.worth(s, "pt", 10), "no 'member' column"),
    (lambda e, s: flashgen.worth(e[e["member"] == 0], "pt", 10), "single member"),
    (lambda e, s: flashgen.worth(e, "pt", 1), "at least 2 bins"),
    (lambda e, s: flashgen.worth(e, "pt", [5, 3, 10]), "strictly increasing"),
    (lambda e, s: flashgen.worth(e, "pt", ["a", "b"]), "bins must be a number of bins (an integer) or a list"),
    (lambda e, s: flashgen.worth(e, "pt", True), "bins must be a number of bins"),
    (lambda e, s: flashgen.worth(e, "pt", 10.0), "bins must be a number of bins"),
    (lambda e, s: flashgen.worth(e, "pt", 10, training_events=0), "training_events must be at least 1"),
    (lambda e, s: flashgen.worth(e, ["pt"], 10), "observable must be a column name"),
])
def test_worth_refuses_bad_inputs(models: dict[str, Path], call, match: str) -> None:
    e = flashgen.load(models["e"]).sample(400, seed=1)
    s = flashgen.load(models["m"]).sample(400, seed=1)
    with pytest.raises(FlashgenError, match=re.escape(match)):
        call(e, s)


def test_a_table_file_round_trips(models: dict[str, Path]) -> None:
    table = read_table(models["dir"] / "train.parquet")
    assert api.as_table(str(models["dir"] / "train.parquet")).names == table.names
    assert api.as_table(table) is table
    with pytest.raises(FlashgenError, match="different lengths"):
        api.as_table({"a": np.zeros(3), "b": np.zeros(4)})
