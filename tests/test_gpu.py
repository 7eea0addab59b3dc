"""CUDA: training and generation on a GPU (skipped without one; run with ``-m gpu``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flashgen.data import read_table
from flashgen.generation import Sampling, generate, sample
from flashgen.models import FlashModel
from flashgen.sources.electron import simulate_electrons
from flashgen.sources.toys import simulate_toy
from flashgen.training import TrainSettings, train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("kind", ["flow", "gan", "wgan-gp"])
def test_train_on_cuda_generate_on_cpu_and_cuda(kind, tmp_path) -> None:
    table = simulate_toy("ring", 4000, seed=1)
    model = train(table, kind, settings=TrainSettings(steps=300, batch_size=256, snapshot_every=100, seed=2,
                                               device="cuda"))
    path = model.save(tmp_path / "m.pt")
    cpu = sample(FlashModel.load(path), 5000, seed=3)
    gpu_model = FlashModel.load(path, device="cuda")
    assert gpu_model.device.type == "cuda"
    gpu = sample(gpu_model, 5000, seed=3)
    again = sample(gpu_model, 5000, seed=3)
    np.testing.assert_array_equal(gpu["x"], again["x"])  # seeded on the GPU too
    for t in (cpu, gpu):
        r = np.hypot(t["x"], t["y"])
        assert np.isfinite(r).all() and 0.7 < np.median(r) < 1.3


def test_conditional_generation_on_cuda_streams_to_parquet(tmp_path) -> None:
    data = simulate_electrons(20_000, seed=4)
    model = train(data, "flow", preset="electron",
                  settings=TrainSettings(steps=200, batch_size=512, seed=0, device="cuda"))
    model.to("cuda")
    cond = simulate_electrons(30_000, seed=5).select(["gen_pt", "gen_eta", "gen_phi"])
    result = generate(model, tmp_path / "g.parquet", 0, sampling=Sampling(1, 7000), conditions=cond, quiet=True)
    out = read_table(tmp_path / "g.parquet")
    assert result.events == len(out) == 30_000
    det = out["detected"] == 1
    assert 0.6 < det.mean() < 0.98 and (out["pt"][det] > 0).all()


def test_fast_flow_inverse_on_cuda_equals_zuko() -> None:
    from flashgen.models.flow import Flow

    torch.manual_seed(0)
    flow = Flow(6, 2, transforms=4, hidden=(32, 32), bins=8).double().to("cuda").eval()
    c = torch.randn(20000, 2, dtype=torch.float64, device="cuda")
    gen = lambda: torch.Generator(device="cuda").manual_seed(3)  # noqa: E731
    torch.testing.assert_close(flow.sample(20000, c, gen()), flow.sample_reference(20000, c, gen()),
                               rtol=1e-9, atol=1e-9)
