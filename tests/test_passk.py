"""pass@k against exact rational arithmetic (fractions), and its input checks."""

from __future__ import annotations

import random
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from rlvr_boundary.passk import pass_at_k, pass_at_k_curve


def exact(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_every_k_c_for_small_n_matches_fractions() -> None:
    for n in range(1, 41):
        for c in range(n + 1):
            ks = np.arange(1, n + 1)
            got = pass_at_k(n, c, ks)
            want = [float(exact(n, c, int(k))) for k in ks]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n", [128, 1024, 2048])
def test_paper_scale_n_matches_fractions(n: int) -> None:
    rng = random.Random(n)
    cs = sorted({0, 1, 2, n - 1, n, *(rng.randrange(n + 1) for _ in range(12))})
    ks = sorted({1, 2, 3, n // 2, n - 1, n, *(rng.randrange(1, n + 1) for _ in range(12))})
    got = pass_at_k(n, np.array(cs)[:, None], np.array(ks)[None, :])
    for i, c in enumerate(cs):
        for j, k in enumerate(ks):
            assert abs(got[i, j] - float(exact(n, c, k))) < 1e-12, (n, c, k)


def test_curve_is_mean_of_exact_values_with_mixed_n() -> None:
    rng = random.Random(7)
    n = np.array([rng.choice([64, 100, 128]) for _ in range(300)])
    c = np.array([rng.randrange(int(m) + 1) for m in n])
    ks = np.array([1, 2, 5, 17, 64])
    got = pass_at_k_curve(n, c, ks)
    for j, k in enumerate(ks):
        want = sum((exact(int(a), int(b), int(k)) for a, b in zip(n, c, strict=True)), Fraction(0)) / len(n)
        assert abs(got[j] - float(want)) < 1e-13


def test_curve_agrees_with_elementwise_and_is_monotone() -> None:
    rng = np.random.default_rng(0)
    n = np.full(500, 256)
    c = rng.binomial(256, rng.beta(0.3, 1.5, 500))
    ks = np.arange(1, 257)
    curve = pass_at_k_curve(n, c, ks)
    np.testing.assert_allclose(curve, pass_at_k(n[:, None], c[:, None], ks[None, :]).mean(axis=0), atol=1e-14)
    assert np.all(np.diff(curve) >= -1e-15)
    assert curve[0] == pytest.approx(c.sum() / n.sum(), abs=1e-14)  # pass@1 = mean accuracy
    assert curve[-1] == pytest.approx(np.mean(c > 0), abs=1e-14)  # pass@n = solved at all


def test_extremes() -> None:
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 1, 10) == 1.0  # all samples drawn: the one correct one is among them
    assert pass_at_k(10, 9, 2) == 1.0


@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [
        (10, 3, 11, "k > n"),
        (10, 11, 1, "c > n"),
        (10, 3, 0, "k must be >= 1"),
        (10, -1, 1, "c must be >= 0"),
        (0, 0, 1, "n must be >= 1"),
        (10, 2.5, 1, "integers"),
    ],
)
def test_bad_input_is_rejected(n: int, c: float, k: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_curve_rejects_k_beyond_a_problems_samples() -> None:
    with pytest.raises(ValueError, match="k > n"):
        pass_at_k_curve([128, 64], [3, 4], [1, 100])
