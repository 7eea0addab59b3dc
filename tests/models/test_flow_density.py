"""The fast density pass of the coupling spline flow equals zuko's: the log-likelihood, its
gradient with respect to every parameter, and (against finite differences) the hand-written
backward of the spline; its compiled form (``torch.compile``) equals the eager one, and a
machine where compiling fails trains eagerly."""

from __future__ import annotations

import copy

import pytest
import torch

from flashgen.models.flow import Flow, RationalQuadraticSpline as RQS
import flashgen.models.flow_density as density
from flashgen.models.flow_density import _Spline


def _flow(features: int, context: int, bins: int, seed: int = 0, spread: float = 0.5) -> Flow:
    """A flow whose splines are far from the identity (zuko initialises near it)."""
    torch.manual_seed(seed)
    flow = Flow(features, context, transforms=4, hidden=(16, 16), bins=bins)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(spread * torch.randn_like(p))
    return flow


@pytest.mark.parametrize(("features", "context", "bins"), [(5, 0, 8), (4, 3, 5), (2, 0, 2), (7, 2, 8), (17, 0, 8)])
def test_log_prob_and_gradients_equal_zuko_in_float64(features: int, context: int, bins: int) -> None:
    """Same values and gradients to 1e-6, with a fifth of the values outside the spline's
    domain (|x| > 5, where each layer is the identity)."""
    flow = _flow(features, context, bins).double()
    gen = torch.Generator().manual_seed(1)
    x = 4.0 * torch.randn(3000, features, generator=gen, dtype=torch.float64)
    c = torch.randn(3000, context, generator=gen, dtype=torch.float64) if context else None
    assert (x.abs() > RQS.BOUND).any(1).float().mean() > 0.2
    fast, reference = flow.log_prob(x, c), flow.log_prob_reference(x, c)
    assert fast.shape == (3000,)
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-6)
    params = list(flow.parameters())
    g_fast = torch.autograd.grad(fast.mean(), params)
    g_ref = torch.autograd.grad(reference.mean(), params)
    for a, b in zip(g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_loss_is_the_fast_log_prob_and_as_accurate_as_zuko_in_float32() -> None:
    """Against the float64 value, both float32 computations err by float rounding amplified
    by steep splines: ~1e-4 nats here (measured 1.3e-4 fast, 1.6e-4 zuko)."""
    flow = _flow(6, 2, 8, spread=0.2)
    x, c = torch.randn(2000, 6), torch.randn(2000, 2)
    assert flow.loss(x, c).item() == pytest.approx(-flow.log_prob(x, c).mean().item())
    truth = copy.deepcopy(flow).double().log_prob_reference(x.double(), c.double())
    fast = (flow.log_prob(x, c).double() - truth).abs().max().item()
    zuko = (flow.log_prob_reference(x, c).double() - truth).abs().max().item()
    assert fast < 1e-3 and fast < 2 * zuko + 1e-5


def test_the_autoregressive_flow_keeps_zuko_density() -> None:
    torch.manual_seed(0)
    flow = Flow(3, 0, transforms=2, hidden=(8,), bins=4, coupling=False)
    x = torch.randn(50, 3)
    torch.testing.assert_close(flow.log_prob(x), flow.log_prob_reference(x))


@pytest.mark.parametrize("bins", [2, 5])
def test_spline_backward_matches_finite_differences(bins: int) -> None:
    torch.manual_seed(3)
    fb, n = 3, 40
    out = (0.8 * torch.randn(2 * bins * fb + (bins - 1) * fb, n, dtype=torch.float64)).requires_grad_()
    xb = torch.cat([4.0 * torch.rand(fb, n - 4, dtype=torch.float64) - 2.0,  # inside the domain
                    torch.tensor([[-6.0, 7.0, 5.5, -5.2]] * fb, dtype=torch.float64)], 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda o, x: _Spline.apply(o, x, bins, RQS.BOUND, RQS.MIN_BIN, RQS.MIN_SLOPE, False),
                                    (out, xb), eps=1e-6, atol=1e-6)


def test_training_steps_follow_zuko() -> None:
    """Twenty float64 Adam steps through either density reach the same parameters."""
    fast, reference = _flow(5, 1, 6, spread=0.2).double(), _flow(5, 1, 6, spread=0.2).double()
    opt_f = torch.optim.AdamW(fast.parameters(), lr=1e-3)
    opt_r = torch.optim.AdamW(reference.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(2)
    for _ in range(20):
        x = torch.randn(256, 5, generator=gen, dtype=torch.float64)
        c = torch.randn(256, 1, generator=gen, dtype=torch.float64)
        fast.minimise(fast.loss(x, c), opt_f)
        reference.minimise(-reference.log_prob_reference(x, c).mean(), opt_r)
    for a, b in zip(fast.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


def test_the_compiled_spline_equals_zuko_in_float64() -> None:
    """The compiled pass (TorchInductor, this machine's C++ compiler): log-likelihoods and
    gradients to 1e-6 against zuko, and float64 training steps that follow the eager ones."""
    flow = _flow(4, 0, 6).double()
    gen = torch.Generator().manual_seed(1)
    x = 4.0 * torch.randn(1000, 4, generator=gen, dtype=torch.float64)
    compiled, reference = flow.log_prob(x, compiled=True), flow.log_prob_reference(x)
    assert not density.compiled_kernels_failed()
    torch.testing.assert_close(compiled, reference, rtol=0, atol=1e-6)
    params = list(flow.parameters())
    for a, b in zip(torch.autograd.grad(compiled.mean(), params), torch.autograd.grad(reference.mean(), params),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
    steps = {}
    for on in (False, True):
        model = copy.deepcopy(flow)
        (opt,) = model.configure_optimizers()
        assert model.compile_steps(on) is on
        batches = torch.Generator().manual_seed(2)
        losses = [model.train_step(x[torch.randint(1000, (1000,), generator=batches)], torch.empty(1000, 0),
                                   [opt], batches)["nll"] for _ in range(5)]
        steps[on] = losses, list(model.parameters())
    assert steps[True][0] == pytest.approx(steps[False][0], abs=1e-9)
    for a, b in zip(steps[True][1], steps[False][1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


def test_a_failed_compile_falls_back_to_the_eager_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a working compiler (here: compiling raises) the same values, one warning, and
    no further attempt in this process."""
    calls = []

    def broken(name, eager):
        calls.append(name)
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(density, "_compiled", broken)
    monkeypatch.setattr(density, "_COMPILED", {})
    flow = _flow(5, 1, 4)
    x, c = torch.randn(200, 5), torch.randn(200, 1)
    with pytest.warns(UserWarning, match="compiling the flow's training step failed"):
        value = flow.log_prob(x, c, compiled=True)
    torch.testing.assert_close(value, flow.log_prob(x, c))
    value.mean().backward()
    assert calls == ["forward"] and density.compiled_kernels_failed()
