"""Property-based tests (hypothesis): table I/O and invertible preprocessing on arbitrary inputs.

Tables: any small table of the column types the writers support (float64, float32, int32, int64,
bool; NaN and ±inf only in nullable columns; subnormals included), with any units, descriptions
and JSON metadata, written to Parquet or ROOT in one or several chunks, reads back bit for bit.

Transforms: for data inside each step's domain (Log: x >= 0, x + offset > 0; Logit: inside the
window, its extreme values included; Asinh: any finite x; Dequantize: integers; SortDescending:
ordered slots), forward then inverse returns the input

* by the step alone, in float64: to float64 rounding (integers exactly);
* through a fitted one-step :class:`Pipeline` and its float32 model matrix: within what rounding
  that matrix to float32 implies, i.e. the step's inverse evaluated at ``y ± δ`` where ``y`` is
  the model-side value and ``δ = 2^-23 |y - mean|`` (twice float32's relative rounding of
  ``(y - mean) / std``).

Examples are derandomised (the same every run) and no example database is written.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flashgen import __version__
from flashgen.data import Column, EventTable, TableWriter, read_table, write_table
from flashgen.errors import FlashgenError
from flashgen.transforms import Asinh, Dequantize, Log, Logit, Pipeline, SortDescending, Transform


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


EPS = float(np.finfo(np.float64).eps)
TINY = 1e-300  # absolute slack: below this, a value is zero for any physics purpose

# ---------------------------------------------------------------------------------------------
# Tables

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
TEXT = st.text(max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)
# "source" and "flashgen_version" are set by read_table / the writer by design; "columns" is
# reserved for the schema (see test_metadata_key_columns_is_refused)
META_KEYS = (TEXT | st.sampled_from(["producer", "seed", "model", "varies"])).filter(
    lambda k: k not in ("source", "flashgen_version", "columns"))
DTYPES = ["float64", "float32", "int32", "int64", "bool"]


def _elements(dtype: np.dtype, nullable: bool) -> st.SearchStrategy:
    if dtype.kind == "f":
        return st.floats(width=dtype.itemsize * 8, allow_nan=nullable, allow_infinity=nullable,
                         allow_subnormal=True)
    if dtype.kind == "b":
        return st.booleans()
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@st.composite
def tables(draw: st.DrawFn) -> EventTable:
    """A table of 1..50 rows and 1..5 columns of mixed types, units and metadata."""
    n = draw(st.integers(1, 50))
    data: dict[str, np.ndarray] = {}
    columns: dict[str, Column] = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=5, unique=True)):
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        nullable = dtype.kind == "f" and draw(st.booleans())
        data[name] = draw(arrays(dtype, n, elements=_elements(dtype, nullable)))
        columns[name] = Column(name, draw(TEXT), draw(TEXT), nullable)
    return EventTable(data, columns, draw(st.dictionaries(META_KEYS, JSON, max_size=4)))


def _assert_same_values(got: np.ndarray, want: np.ndarray, name: str) -> None:
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind == "f":
        assert np.array_equal(got, want, equal_nan=True), f"{name}: {got} != {want}"
        assert np.array_equal(np.signbit(got), np.signbit(want)), f"{name}: signs of zeros differ"
    else:
        assert np.array_equal(got, want), f"{name}: {got} != {want}"


@pytest.mark.parametrize("suffix", [".parquet", ".root"])
@_settings(50)
@given(table=tables(), cuts=st.lists(st.integers(0, 50), max_size=2))
def test_table_round_trip_keeps_values_dtypes_units_and_metadata(suffix, table, cuts,
                                                                 tmp_path_factory) -> None:
    path = tmp_path_factory.getbasetemp() / f"properties{suffix}"
    edges = [0, *sorted(min(c, len(table)) for c in cuts), len(table)]
    with TableWriter(path, list(table.columns.values()), table.meta) as writer:
        for start, stop in zip(edges[:-1], edges[1:]):  # the same table in up to three chunks
            writer.write(table.take(slice(start, stop)))
    back = read_table(path)
    assert back.names == table.names
    for name in table.names:
        _assert_same_values(back.data[name], table.data[name], name)
    assert back.columns == table.columns
    assert back.meta == {**table.meta, "flashgen_version": __version__, "source": str(path)}


@pytest.mark.parametrize("suffix", [".parquet", ".root"])
def test_metadata_key_columns_is_refused(suffix, tmp_path) -> None:
    # found by the property above: meta {"columns": {}} replaced the stored schema (units and
    # nullable flags lost) and meta {"columns": None} wrote a file that read_table crashed on
    table = EventTable({"x": np.array([1.5, np.nan])}, {"x": Column("x", "GeV", nullable=True)},
                       {"columns": {}})
    with pytest.raises(FlashgenError, match="'columns' is reserved"):
        write_table(table, tmp_path / f"t{suffix}")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Transforms


def _floats(low: float, high: float, **kw: bool) -> st.SearchStrategy[float]:
    # subnormals are drawn whenever the interval reaches them
    return st.floats(low, high, allow_nan=False, allow_infinity=False, **kw)


def _column(elements: st.SearchStrategy[float]) -> st.SearchStrategy[np.ndarray]:
    return arrays(np.float64, st.integers(1, 50), elements=elements)


def _round_trips(step: Transform, x: dict[str, torch.Tensor]) -> tuple[Pipeline, dict, dict, dict]:
    """Fit a one-step pipeline on ``x``. Returns it, the step's model-side values ``y`` (with the
    noise of seed 1), ``x`` back from ``y`` by the step alone (float64) and ``x`` back from the
    pipeline's float32 model matrix (``forward`` with seed 1, then ``inverse``)."""
    pipe = Pipeline(list(x), [step])
    pipe.fit(dict(x), torch.Generator().manual_seed(0))
    y = step.forward(dict(x), torch.Generator().manual_seed(1))
    back64 = step.inverse(dict(y))
    back32 = pipe.inverse(pipe.forward(dict(x), torch.Generator().manual_seed(1)).double())
    return pipe, y, back64, back32


def _float32_bounds(step: Transform, pipe: Pipeline, y: dict[str, torch.Tensor],
                    column: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The step's inverse at ``y ∓ δ``, ``δ`` the float32 resolution of the model matrix (plus
    float64 rounding of the standardisation); for a non-decreasing inverse these bound what a
    float32 round trip can return."""
    j = pipe.model_columns.index(column)
    v, mean, std = y[column], pipe.mean[j], pipe.std[j]
    delta = 2.0**-23 * (v - mean).abs() + 8 * EPS * (v.abs() + mean.abs() + std)
    return (step.inverse({**y, column: v - delta})[column],
            step.inverse({**y, column: v + delta})[column])


def _check_monotone_step(step: Transform, values: np.ndarray, scale: float) -> None:
    """Round trips of a one-column step with a non-decreasing inverse: by the step in float64 to
    ``4 eps (1 + |y|) (|x| + scale)`` (plus ``TINY``; ``|y|`` is the condition number of the
    exponentials in the inverses); through the pipeline's float32 model matrix within the bounds
    that float32 rounding implies (plus the same tolerance)."""
    x = torch.as_tensor(values, dtype=torch.float64)
    pipe, y, back64, back32 = _round_trips(step, {"x": x})
    assert bool(torch.isfinite(y["x"]).all()), f"infinite model-side values {y['x']}"
    tol = 4 * EPS * (1 + y["x"].abs()) * (x.abs() + scale) + TINY
    err64 = (back64["x"] - x).abs()
    assert bool((err64 <= tol).all()), f"float64 round trip: worst error {float(err64.max())!r}"
    lo, hi = _float32_bounds(step, pipe, y, "x")
    allowed = torch.maximum((lo - x).abs(), (hi - x).abs()) + tol
    err32 = (back32["x"] - x).abs()
    assert bool((err32 <= allowed).all()), (
        f"float32 round trip: error {float((err32 - allowed).max())!r} beyond the bound")


@_settings(100)
@given(offset=st.just(0.0) | _floats(0.0, 100.0), data=st.data())
def test_log_round_trip(offset, data) -> None:
    # domain: x >= 0 (the default lower bound) and x + offset > 0
    values = data.draw(_column(_floats(0.0, 1e300, exclude_min=offset == 0.0)))
    _check_monotone_step(Log("x", offset=offset), values, scale=offset)


@_settings(100)
@given(scale=_floats(1e-3, 1e3), values=_column(_floats(-1e300, 1e300)))
def test_asinh_round_trip(scale, values) -> None:
    _check_monotone_step(Asinh("x", scale=scale), values, scale=0.0)


@_settings(100)
@given(low=_floats(-1e6, 1e6), width=_floats(1e-3, 1e6), data=st.data())
def test_logit_round_trip(low, width, data) -> None:
    high = low + width
    inside = data.draw(_column(_floats(low, high, exclude_min=True, exclude_max=True)))
    edges = [np.nextafter(low, high), np.nextafter(high, low)]  # the extreme values inside
    values = np.concatenate([inside, edges])
    _check_monotone_step(Logit("x", low, high), values, scale=abs(low) + abs(high))


def test_logit_of_values_within_rounding_of_the_edges_is_finite() -> None:
    # found by test_logit_round_trip: (x - low) / (high - low) rounded to exactly 0 or 1 gave an
    # infinite logit, and the fitted pipeline then returned NaN for every event of the column
    below_two = float(np.nextafter(2.0, 0.0))
    for low, high, x in [(0.0, 2.0, 5e-324), (-1.0, 2.0, below_two)]:
        values = torch.tensor([x, (low + high) / 2], dtype=torch.float64)
        pipe = Pipeline(["x"], [Logit("x", low, high)])
        assert bool(torch.isfinite(pipe.fit({"x": values})).all())
        back = pipe.inverse(pipe.forward({"x": values}).double())["x"]
        # the edge value's logit (about ±37 or -744) widens the standardisation, so the float32
        # resolution of the middle value is coarser than usual, yet far below the window
        torch.testing.assert_close(back, values, rtol=0, atol=1e-4 * (high - low))


@_settings(100)
@given(values=arrays(np.int64, st.integers(1, 50), elements=st.integers(-10**6, 10**6)))
def test_dequantize_round_trip(values) -> None:
    x = torch.as_tensor(values, dtype=torch.float64)
    step = Dequantize("x")
    pipe, y, back64, back32 = _round_trips(step, {"x": x})
    assert bool(((y["x"] >= x) & (y["x"] < x + 1)).all())
    assert torch.equal(back64["x"], x)
    # float32: the integer itself, unless the noise lies within float32 resolution of an integer
    lo, hi = _float32_bounds(step, pipe, y, "x")
    assert bool(((back32["x"] >= lo) & (back32["x"] <= hi)).all())
    assert bool(((back32["x"] == x) | (lo != hi)).all())


@_settings(80)
@given(rows=st.integers(1, 50).flatmap(lambda n: st.integers(1, 4).flatmap(
    lambda k: arrays(np.float64, (n, k), elements=_floats(-1e6, 1e6)))))
def test_sort_descending_round_trip_of_ordered_slots(rows) -> None:
    ordered = -np.sort(-rows, axis=1)  # slots ordered in the data: slot0 >= slot1 >= ...
    names = [f"slot{j}" for j in range(ordered.shape[1])]
    x = {c: torch.as_tensor(ordered[:, j]) for j, c in enumerate(names)}
    pipe, y, back64, back32 = _round_trips(SortDescending(names), x)
    assert all(torch.equal(back64[c], x[c]) for c in names)
    # sorting is 1-Lipschitz in the max norm: the error is at most the largest slot resolution
    allowed = max(float((2.0**-23 * (y[c] - pipe.mean[j]).abs()
                         + 8 * EPS * (y[c].abs() + pipe.mean[j].abs() + pipe.std[j])).max())
                  for j, c in enumerate(pipe.model_columns))
    for c in names:
        assert bool(((back32[c] - x[c]).abs() <= allowed).all())
    assert all(bool((back32[a] >= back32[b]).all()) for a, b in zip(names, names[1:]))


# ---------------------------------------------------------------------------------------------
# Model settings from the command line (`flashgen train --set NAME=VALUE`)

SETTING_TEXT = (st.text(max_size=12)
                | st.integers(-10**6, 10**6).map(str)
                | st.floats(allow_nan=True, allow_infinity=True).map(repr)
                | st.lists(st.integers(-5, 300), max_size=4).map(lambda v: ",".join(map(str, v)))
                | st.sampled_from(["true", "False", "none", "64x64", "(8, 8)", "[1,2]", "1e-3", "0.5,0.9",
                                   "adam", "elu", "", "x", ",", "nan", "-inf"]))


def _setting_names() -> st.SearchStrategy[tuple[str, str]]:
    from flashgen.models import MODELS

    return st.sampled_from(sorted(MODELS)).flatmap(lambda model: st.tuples(
        st.just(model), st.sampled_from(MODELS[model].config_class.names()) | NAMES))


@_settings(300)
@given(named=_setting_names(), text=SETTING_TEXT)
def test_any_set_value_gives_a_typed_config_or_one_clear_error(named, text) -> None:
    """A ``--set`` value is parsed into the setting's type and validated: the result is a config
    whose every value has the declared type and passes its rule, or a FlashgenError naming the
    setting, never another exception."""
    from flashgen.training.fit import model_config

    model, name = named
    try:
        config = model_config(model, None, {name: text})
    except FlashgenError as err:
        message = str(err)
        assert "\n" not in message and name in message
        return
    assert type(config).build(config.plain()) == config  # what a model file stores reads back


@_settings(60)
@given(named=_setting_names(), text=SETTING_TEXT)
def test_the_train_command_answers_any_set_value_with_one_line(named, text, tmp_path_factory) -> None:
    """``flashgen train --set NAME=VALUE`` never shows a traceback: a bad setting (or, when the
    setting is fine, the missing data file) is one line ``flashgen: error: ...`` and exit 2."""
    import contextlib
    import io

    from flashgen.cli.main import main

    model, name = named
    folder = tmp_path_factory.getbasetemp()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(["train", "--data", str(folder / "missing.parquet"), "--model", model,
                         "--set", f"{name}={text}", "--out", str(folder / "m.pt")])
        except SystemExit as stop:  # argparse: a value it cannot split into name=value
            code = int(stop.code or 0)
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and lines and "Traceback" not in err.getvalue(), err.getvalue()
    assert lines[-1].startswith("flashgen") or "error:" in lines[-1], err.getvalue()
