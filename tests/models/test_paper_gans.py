"""The papers' own GANs: the pieces the generic GAN lacked (batch statistics, dropout kept at
generation, Roth et al.'s penalty, Adadelta, regression terms in physical units) and the presets
that build them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flashgen.errors import FlashgenError
from flashgen.models import MODELS, RegressionTerm
from flashgen.models.interface import MLP
from flashgen.models.gan import GAN, BatchStatistics
from flashgen.sources.registry import get_preset
from flashgen.training import TrainSettings, train
from flashgen.transforms import AzimuthalRotation, GaussianSmear, Pipeline

from validation.validation_synthetic import make_zmumu


def test_regression_term_in_physical_units_is_the_papers_equation() -> None:
    """c1 (<q> - M)^2 + c2 (sigma_q - sigma_M)^2, no division by sigma_M^2."""
    q = torch.tensor([88.0, 92.0, 96.0, 100.0])  # mean 94, std (n-1) 5.164
    term = RegressionTerm("q", lambda x, c: x[:, 0], mean=90.0, std=7.0, weight_mean=1e-4,
                          weight_std=2e-4, standardised=False)
    expected = 1e-4 * 4.0**2 + 2e-4 * (float(q.std()) - 7.0) ** 2
    assert float(term.loss(q[:, None], torch.zeros(4, 0))) == pytest.approx(expected, rel=1e-6)
    scaled = RegressionTerm("q", lambda x, c: x[:, 0], 90.0, 7.0, 1e-4, 2e-4)
    assert float(scaled.loss(q[:, None], torch.zeros(4, 0))) == pytest.approx(expected / 49.0, rel=1e-6)


def test_batch_statistics_follow_the_batch() -> None:
    torch.manual_seed(0)
    stats = BatchStatistics(2, embedding=8, hidden=(16, 16))
    x = torch.randn(12, 2)
    out = stats(x)
    assert out.shape == (12, 8)
    perm = torch.randperm(12)
    assert torch.allclose(stats(x[perm]), out[perm], atol=1e-6)  # equivariant, no batch order
    collapsed = stats(x[:1].expand(12, 2))  # every point alike: nothing varies over the batch
    assert torch.allclose(collapsed, torch.zeros_like(collapsed))
    with torch.no_grad():
        spread = stats(torch.cat([x[:6], x[:6] + 5.0]))
    assert float(spread.abs().sum()) > 0


def test_dropout_is_kept_at_generation_and_seeded() -> None:
    torch.manual_seed(0)
    net = MLP(4, 2, (32, 32), dropout=0.5, sampling_dropout=True).eval()
    z = torch.randn(50, 4)
    a = net(z, None, torch.Generator().manual_seed(1))
    assert torch.equal(a, net(z, None, torch.Generator().manual_seed(1)))
    assert not torch.allclose(a, net(z, None, torch.Generator().manual_seed(2)))
    plain = MLP(4, 2, (32, 32), dropout=0.5).eval()  # ordinary dropout: off in evaluation
    assert torch.equal(plain(z, None, torch.Generator().manual_seed(1)),
                       plain(z, None, torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError, match="dropout"):
        MLP(4, 2, (8,), dropout=1.0)


def test_roth_penalty_of_a_linear_discriminator() -> None:
    """logit = w.x + b: the gradient is w everywhere, so the penalty is
    gamma/2 (E[(1-D)^2]_real + E[D^2]_fake) |w|^2."""
    torch.manual_seed(0)
    gan = GAN(3, discriminator_hidden=(), gradient_penalty=0.3)
    layer = gan.discriminator.layers[0]
    x = torch.randn(40, 3)
    gen = torch.Generator().manual_seed(0)
    logit, pen = gan._penalty(x, torch.zeros(40, 0), gen, real=True)
    logit, pen = logit.detach(), pen.detach()
    with torch.no_grad():
        d = torch.sigmoid(x @ layer.weight.T + layer.bias).squeeze(1)
    w2 = float(layer.weight.detach().pow(2).sum())
    assert torch.allclose(logit.squeeze(1), torch.logit(d), atol=1e-5)
    assert float(pen) == pytest.approx(float(((1 - d) ** 2).mean()) * w2, rel=1e-5)
    _, pen_fake = gan._penalty(x, torch.zeros(40, 0), gen, real=False)
    assert float(pen_fake.detach()) == pytest.approx(float((d**2).mean()) * w2, rel=1e-5)


def test_the_amplification_papers_gan_trains_and_samples() -> None:
    hp = get_preset("camelback").hparams["gan"]
    gan = GAN(1, config=hp, generator_hidden=(32, 32), discriminator_hidden=(32, 32), latent=50)
    assert gan.uniform_latent and gan.statistics is not None
    opts = gan.configure_optimizers()
    gen = torch.Generator().manual_seed(0)
    losses = gan.train_step(torch.randn(16, 1), torch.zeros(16, 0), opts, gen)
    assert set(losses) == {"d", "g", "gp"} and all(np.isfinite(v) for v in losses.values())
    noise = gan._noise(1000, torch.zeros(1), gen)
    assert float(noise.min()) >= -1 and float(noise.max()) <= 1 and float(noise.std()) > 0.5


def test_bad_gan_options_are_clear_errors() -> None:
    for bad in ({"optimizer": "sgd"}, {"activation": "tanh"}, {"batch_statistics": -1}):
        with pytest.raises(FlashgenError, match=f"bad gan setting {next(iter(bad))}="):
            GAN(2, **bad)
    with pytest.raises(FlashgenError, match="bad gan setting optimizer=sgd: must be one of adam, adadelta"):
        train(make_zmumu(300, 1), "gan", preset="zmumu-reduced", settings=TrainSettings(steps=2),
              config={"optimizer": "sgd"})


def test_gaussian_smear_round_trip_and_width() -> None:
    k = torch.arange(0.0, 40.0).repeat(500)
    step = GaussianSmear("n", 0.5)
    step.fit({"n": k})
    smeared = step.forward({"n": k}, torch.Generator().manual_seed(0))["n"]
    assert float((smeared - k).std()) == pytest.approx(0.5, rel=0.03)
    back = step.inverse({"n": k + 0.49})["n"]
    assert torch.equal(back, k)  # rounded, not floored: no shift
    assert float(step.inverse({"n": torch.tensor([-3.0])})["n"]) == 0.0  # never below the data
    with pytest.raises(FlashgenError, match="not integer-valued"):
        GaussianSmear("n").fit({"n": torch.tensor([0.5])})
    with pytest.raises(FlashgenError, match="positive"):
        GaussianSmear("n", 0.0)


def test_the_zmumu_presets_build_the_papers_gan_with_its_preprocessing() -> None:
    full, reduced = get_preset("zmumu"), get_preset("zmumu-reduced")
    steps = full.steps_for("gan")
    assert [type(s) for s in steps] == [AzimuthalRotation, GaussianSmear]
    assert len(full.steps_for("flow")) > 10  # the flow keeps its own preprocessing
    assert full.hparams["gan"].discriminator_hidden == (128, 128, 256, 256, 128, 64, 32, 16, 8)
    assert full.train["gan"]["snapshot_every"] == 100 and full.regression == (("mll", 1e-4, 1e-4),)
    assert not full.regression_standardised
    pipe = Pipeline(list(reduced.features), reduced.steps_for("gan"))
    table = make_zmumu(400, 2)
    pipe.fit({c: torch.as_tensor(np.asarray(table[c], dtype=np.float64)) for c in reduced.features})
    assert len(pipe.model_columns) == 7 and "mu1_py" not in pipe.model_columns


def test_the_reduced_papers_gan_trains_through_the_one_loop() -> None:
    table = make_zmumu(600, 3)
    model = train(table, "gan", preset="zmumu-reduced", settings=TrainSettings(steps=4, snapshot_every=2, seed=1))
    net = model.network
    assert isinstance(net, MODELS["gan"]) and net.latent == 7
    assert [layer.out_features for layer in net.generator.layers] == [64, 128, 256, 512, 256, 128, 7]
    assert isinstance(net.configure_optimizers()[0], torch.optim.Adadelta)
    assert model.info["selection"][0] == "mll" and model.info["config"]["batch_size"] == 256
