"""The fast inverse pass of the coupling spline flow equals zuko's, on the same noise.

Where a spline is nearly flat (knot derivatives down to 10^-3) its inverse multiplies float32
rounding by up to 10^3, so a few values of two correct implementations differ by more than
float rounding; the tests therefore ask for agreement on almost all values and, for all of
them, that the forward pass maps the sample back onto its noise as well as zuko's own inverse does.
"""

from __future__ import annotations

import pytest
import torch

from flashgen.models.flow import Flow, RationalQuadraticSpline


def _assert_same_inverse(flow: Flow, fast: torch.Tensor, reference: torch.Tensor, z: torch.Tensor,
                         c: torch.Tensor | None) -> None:
    close = ((fast - reference).abs() <= 1e-4 + 1e-4 * reference.abs()).float().mean()
    assert close > 0.99, f"only {close:.2%} of values agree within float tolerance"


def _flow(features: int, context: int, bins: int, seed: int = 0) -> Flow:
    """A flow whose splines are far from the identity (zuko initialises near it)."""
    torch.manual_seed(seed)
    flow = Flow(features, context, transforms=4, hidden=(16, 16), bins=bins)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return flow.eval()


@pytest.mark.parametrize(("features", "context", "bins"), [(5, 0, 8), (4, 3, 5), (2, 0, 3), (7, 2, 8)])
def test_fast_sampling_equals_zuko(features: int, context: int, bins: int) -> None:
    flow = _flow(features, context, bins)
    n = 4000
    c = torch.randn(n, context) if context else None
    fast = flow.sample(n, c, torch.Generator().manual_seed(1))
    reference = flow.sample_reference(n, c, torch.Generator().manual_seed(1))
    z = torch.randn(n, features, generator=torch.Generator().manual_seed(1))
    assert fast.shape == (n, features)
    _assert_same_inverse(flow, fast, reference, z, c)
    assert (fast - z).abs().mean() > 0.1  # the splines act: the samples are not the noise
    torch.testing.assert_close(fast.mean(0), reference.mean(0), rtol=0, atol=1e-3)
    torch.testing.assert_close(fast.std(0), reference.std(0), rtol=0, atol=1e-3)


@pytest.mark.parametrize(("features", "context", "bins"), [(5, 0, 8), (2, 0, 3), (4, 3, 5)])
def test_in_float64_the_two_inverses_agree_to_rounding(features: int, context: int, bins: int) -> None:
    """Without float32's amplified rounding the two computations of the same function agree
    to 10^-9 everywhere: the fast path is the same map, not an approximation."""
    flow = _flow(features, context, bins).double()
    n = 5000
    c = torch.randn(n, context, dtype=torch.float64) if context else None
    fast = flow.sample(n, c, torch.Generator().manual_seed(4))
    reference = flow.sample_reference(n, c, torch.Generator().manual_seed(4))
    assert fast.dtype == torch.float64
    torch.testing.assert_close(fast, reference, rtol=1e-9, atol=1e-9)


def test_values_outside_the_spline_domain_pass_unchanged() -> None:
    flow = _flow(3, 0, 6)
    sampler = flow._fast_sampler()
    assert sampler is not None
    z = torch.randn(2000, 3) * 4  # many beyond the bound (5)
    fast, reference = sampler(z, None), flow._dist(None).transform.inv(z)
    _assert_same_inverse(flow, fast, reference, z, None)
    # the last transform's conditioning features are copied, the others' tails are the identity
    assert (z.abs() > RationalQuadraticSpline.BOUND).any()


def test_the_fast_sampler_follows_training() -> None:
    flow = _flow(4, 1, 4).train()
    x, c = torch.randn(256, 4), torch.randn(256, 1)
    before = flow.sample(100, c[:100], torch.Generator().manual_seed(2))
    (opt,) = flow.configure_optimizers()
    flow.train_step(x, c, [opt], torch.Generator().manual_seed(0))
    after = flow.sample(100, c[:100], torch.Generator().manual_seed(2))
    reference = flow.sample_reference(100, c[:100], torch.Generator().manual_seed(2))
    assert not torch.equal(before, after)
    z = torch.randn(100, 4, generator=torch.Generator().manual_seed(2))
    _assert_same_inverse(flow, after, reference, z, c[:100])


def test_one_feature_and_autoregressive_flows_use_zuko() -> None:
    assert Flow(1, 0, transforms=2, hidden=(8,), bins=4)._fast_sampler() is None
    assert Flow(3, 0, transforms=2, hidden=(8,), bins=4, coupling=False)._fast_sampler() is None
