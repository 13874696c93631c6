"""Adversarial losses against values computed by hand (softplus written with math.log/exp)."""

import math

import pytest
import torch

from srlab.errors import SRLabError
from srlab.losses import (
    AdversarialLoss,
    relativistic_discriminator_loss,
    relativistic_generator_loss,
    standard_discriminator_loss,
    standard_generator_loss,
)


def sp(z):  # softplus: BCE(z, 1) = sp(-z), BCE(z, 0) = sp(z)
    return math.log(1 + math.exp(z))


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


D_REAL = [2.0, -1.0]


D_FAKE = [0.5, -0.5]


def t(values, grad=False):
    return torch.tensor(values, dtype=torch.float64).view(-1, 1).requires_grad_(grad)


def test_standard_losses_by_hand():
    g = standard_generator_loss(t(D_FAKE))
    assert g.item() == pytest.approx((sp(-0.5) + sp(0.5)) / 2, abs=1e-12)
    total, real, fake = standard_discriminator_loss(t(D_REAL), t(D_FAKE))
    assert real.item() == pytest.approx((sp(-2.0) + sp(1.0)) / 2, abs=1e-12)
    assert fake.item() == pytest.approx((sp(0.5) + sp(-0.5)) / 2, abs=1e-12)
    assert total.item() == pytest.approx((real.item() + fake.item()) / 2, abs=1e-12)
    # log 2 at the undecided point: D = sigmoid(0) = 1/2
    assert standard_generator_loss(torch.zeros(4, 1)).item() == pytest.approx(math.log(2))


def test_relativistic_losses_by_hand():
    mean_real, mean_fake = sum(D_REAL) / 2, sum(D_FAKE) / 2  # 0.5, 0.0
    total, real, fake = relativistic_discriminator_loss(t(D_REAL), t(D_FAKE))
    want_real = sum(sp(-(r - mean_fake)) for r in D_REAL) / 2  # BCE(C(x) - E C(G(z)), 1)
    want_fake = sum(sp(f - mean_real) for f in D_FAKE) / 2  # BCE(C(G(z)) - E C(x), 0)
    assert real.item() == pytest.approx(want_real, abs=1e-12)
    assert fake.item() == pytest.approx(want_fake, abs=1e-12)
    assert total.item() == pytest.approx((want_real + want_fake) / 2, abs=1e-12)

    d_fake = t(D_FAKE, grad=True)
    g = relativistic_generator_loss(t(D_REAL), d_fake)
    want_g = (
        sum(sp(r - mean_fake) for r in D_REAL) / 2 + sum(sp(-(f - mean_real)) for f in D_FAKE) / 2
    ) / 2
    assert g.item() == pytest.approx(want_g, abs=1e-12)
    # the generator gets gradients through the real images' term too (via E C(G(z)))
    g.backward()
    n = len(D_FAKE)
    from_real_term = -sum(sigmoid(r - mean_fake) for r in D_REAL) / n / n
    want_grad = [0.5 * (from_real_term - sigmoid(-(f - mean_real)) / n) for f in D_FAKE]
    assert d_fake.grad.flatten().tolist() == pytest.approx(want_grad, abs=1e-12)


def test_relativistic_is_not_standard():
    # with D(x) = D(G(z)) everywhere the relativistic discriminator is undecided whatever the level
    same = t([3.0, 3.0])
    assert relativistic_discriminator_loss(same, same)[0].item() == pytest.approx(math.log(2))
    assert standard_discriminator_loss(same, same)[0].item() != pytest.approx(math.log(2))


def test_module_form_matches_functional():
    dr, df = t(D_REAL), t(D_FAKE)
    std, ra = AdversarialLoss("standard"), AdversarialLoss("relativistic")
    assert std.adversarial and not std.needs_real and ra.needs_real
    assert std.generator_loss(df).item() == standard_generator_loss(df).item()
    assert ra.generator_loss(df, dr).item() == relativistic_generator_loss(dr, df).item()
    for mod, fn in ((std, standard_discriminator_loss), (ra, relativistic_discriminator_loss)):
        assert [v.item() for v in mod.discriminator_loss(dr, df)] == [v.item() for v in fn(dr, df)]


def test_adversarial_errors_are_clear():
    with pytest.raises(ValueError, match="kind must be one of"):
        AdversarialLoss("lsgan")
    with pytest.raises(ValueError, match="needs the discriminator's output on real images"):
        AdversarialLoss("relativistic").generator_loss(t(D_FAKE))
    with pytest.raises(SRLabError, match="model=gan"):
        AdversarialLoss()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="differ in shape"):
        relativistic_discriminator_loss(t([1.0]), t([1.0, 2.0]))
