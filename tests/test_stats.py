"""rlvr_boundary.stats against exact values, numerical integration, scorio, and its coverage
on simulated populations with known pass rates."""

from __future__ import annotations

import math
from fractions import Fraction
from math import comb

import mpmath
import numpy as np
import pytest

from rlvr_boundary import stats
from rlvr_boundary.passk import pass_at_k, pass_at_k_curve, pass_at_k_matrix


def _population_curve(a: float, b: float, ks: np.ndarray) -> np.ndarray:
    """E[1 - (1 - p)^k] for p ~ Beta(a, b): 1 - B(a, b + k) / B(a, b)."""
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return np.array([1 - math.exp(math.lgamma(a) + math.lgamma(b + k) - math.lgamma(a + b + k) - log_beta) for k in ks])


KS = np.array([1, 4, 16, 64])


def test_bootstrap_band_covers_the_population_curve() -> None:
    """1,000 simulated benchmarks of 300 problems, p ~ Beta(0.5, 1.5), n = 64."""
    rng = np.random.default_rng(2025)
    truth = _population_curve(0.5, 1.5, KS)
    covered = np.zeros(KS.size)
    simulations = 1000
    for s in range(simulations):
        c = rng.binomial(64, rng.beta(0.5, 1.5, 300))
        band = stats.bootstrap_curve(np.full(300, 64), c, KS, resamples=1000, seed=s)
        covered += (band["low"].to_numpy() <= truth) & (truth <= band["high"].to_numpy())
    coverage = covered / simulations
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), coverage


def test_paired_difference_interval_covers_the_population_difference() -> None:
    """Two models on the same problems: b solves what a solves more often (p_b = 1 - (1 - p_a)^2)."""
    rng = np.random.default_rng(7)
    a, b = 0.5, 1.5
    # p_b = 1 - (1 - p_a)^2, so (1 - p_b)^k = (1 - p_a)^(2k): the truth is closed form
    truth = (1 - _population_curve(a, b, KS)) - (1 - _population_curve(a, b, 2 * KS))
    covered = np.zeros(KS.size)
    simulations = 1000
    for s in range(simulations):
        p_a = rng.beta(a, b, 300)
        c_a = rng.binomial(64, p_a)
        c_b = rng.binomial(64, 1 - (1 - p_a) ** 2)
        n = np.full(300, 64)
        diff = stats.paired_difference(n, c_a, n, c_b, KS, resamples=1000, seed=s)
        covered += (diff["low"].to_numpy() <= truth) & (truth <= diff["high"].to_numpy())
    coverage = covered / simulations
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), coverage


def test_pairing_makes_the_difference_tighter_than_either_band() -> None:
    rng = np.random.default_rng(3)
    p = rng.beta(0.5, 1.5, 400)
    n = np.full(400, 32)
    c_a, c_b = rng.binomial(32, p), rng.binomial(32, np.clip(p * 1.2, 0, 1))
    band = stats.bootstrap_curve(n, c_a, [1, 32])
    diff = stats.paired_difference(n, c_a, n, c_b, [1, 32])
    assert np.all((diff["high"] - diff["low"]).to_numpy() < (band["high"] - band["low"]).to_numpy())


def _integrated(n: int, c: int, k: int) -> tuple[float, float]:
    """Posterior mean and variance of 1 - (1 - p)^k, p ~ Beta(1 + c, 1 + n - c), by quadrature."""
    mpmath.mp.dps = 30
    a, b = mpmath.mpf(1 + c), mpmath.mpf(1 + n - c)
    norm = mpmath.beta(a, b)
    points = sorted({0, 1, *(mpmath.mpf(x) for x in (1 / (4 * k), 1 / k, 4 / k, c / n) if 0 < x < 1)})

    def moment(power: int) -> mpmath.mpf:
        return mpmath.quad(lambda p: (1 - (1 - p) ** k) ** power * p ** (a - 1) * (1 - p) ** (b - 1), points) / norm

    mean = moment(1)
    return float(mean), float(moment(2) - mean**2)


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [
        (1, 0, 1),
        (1, 1, 1),
        (16, 0, 16),
        (16, 16, 8),
        (128, 3, 1),
        (128, 3, 128),
        (1024, 0, 1024),
        (1024, 5, 1024),
        (1024, 1024, 1),
        (64, 31, 33),
    ],
)
def test_posterior_equals_numerical_integration(n: int, c: int, k: int) -> None:
    mean, variance = _integrated(n, c, k)
    got = stats.posterior_pass_at_k([n], [c], [k]).row(0, named=True)
    assert abs(got["mean"] - mean) < 1e-9
    assert abs(got["sd"] - math.sqrt(max(variance, 0.0))) < 1e-9


def test_posterior_of_the_mean_over_problems() -> None:
    n, c, ks = [16, 16, 32, 32], [0, 3, 3, 32], [1, 5, 16]
    got = stats.posterior_pass_at_k(n, c, ks)
    for j, k in enumerate(ks):
        moments = [_integrated(ni, ci, k) for ni, ci in zip(n, c, strict=True)]
        assert abs(got["mean"][j] - sum(m for m, _ in moments) / 4) < 1e-9
        assert abs(got["sd"][j] - math.sqrt(sum(v for _, v in moments)) / 4) < 1e-9


def test_posterior_agrees_with_scorio() -> None:
    scorio = pytest.importorskip("scorio.eval.pass_at_k", reason="scorio (the reference implementation) not installed")
    rng = np.random.default_rng(11)
    results = (rng.random((40, 24)) < rng.beta(0.4, 1.2, (40, 1))).astype(int)
    c = results.sum(axis=1)
    for k in (1, 2, 7, 24):
        mu, sigma, _, _ = scorio.pass_at_k_ci(results, k)
        got = stats.posterior_pass_at_k(np.full(40, 24), c, [k]).row(0, named=True)
        assert abs(got["mean"] - mu) < 1e-9 and abs(got["sd"] - sigma) < 1e-9, k


def test_posterior_interval_covers_the_fixed_set_truth() -> None:
    """p_i from the uniform prior: mean +- 1.96 sd covers mean_i(1 - (1 - p_i)^k) in ~95 %."""
    rng = np.random.default_rng(5)
    covered = np.zeros(KS.size)
    simulations = 1000
    for _ in range(simulations):
        p = rng.random(200)
        c = rng.binomial(64, p)
        truth = np.array([np.mean(1 - (1 - p) ** k) for k in KS])
        posterior = stats.posterior_pass_at_k(np.full(200, 64), c, KS)
        mean, sd = posterior["mean"].to_numpy(), posterior["sd"].to_numpy()
        covered += np.abs(mean - truth) <= 1.96 * sd
    coverage = covered / simulations
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), coverage


def test_first_k_at_or_below_zero_on_constructed_differences() -> None:
    ks = np.array([1, 2, 3, 4, 5])
    rows = np.array(
        [
            [0.3, 0.2, 0.1, -0.1, -0.2],  # crosses at 4
            [0.3, 0.0, 0.1, 0.2, 0.3],  # a tie is a crossing: 2
            [-0.1, 0.2, 0.3, 0.3, 0.3],  # base ahead from the start: 1
            [0.1, 0.1, 0.1, 0.1, 0.0],  # at the last k: 5
            [0.1, 0.1, 0.1, 0.1, 0.1],  # never: 0
        ]
    )
    assert stats.first_k_at_or_below_zero(rows, ks).tolist() == [4, 2, 1, 5, 0]


def _exact(c: list[int], n: int, k: int) -> Fraction:
    return sum((1 - Fraction(comb(n - x, k), comb(n, k)) for x in c), Fraction(0)) / len(c)


def test_compare_pair_finds_the_exact_crossover() -> None:
    """Base solves 10 of 10 problems rarely (c = 2 of 16); RL solves 5 often (c = 14): RL wins
    at small k, the base from the k computed exactly with fractions."""
    base, rl, n = [2] * 10, [14] * 5 + [0] * 5, 16
    want = next(k for k in range(1, n + 1) if _exact(base, n, k) >= _exact(rl, n, k))
    result = stats.compare_pair([n] * 10, base, [n] * 10, rl, resamples=200)
    assert 1 < want < n and result.crossover.k == want
    assert result.crossover.low is not None and result.crossover.low <= want
    never = stats.compare_pair([n] * 10, [0] * 10, [n] * 10, [14] * 10, resamples=200)  # no resample ties
    assert never.crossover == stats.Crossover(None, None, None, 1.0)


def test_compare_pair_fields() -> None:
    rng = np.random.default_rng(1)
    n = np.full(60, 300)
    c_a, c_b = rng.binomial(300, rng.beta(0.3, 2, 60)), rng.binomial(300, rng.beta(0.8, 1.5, 60))
    result = stats.compare_pair(n, c_a, n, c_b, resamples=300, seed=4)
    curve_a, curve_b = pass_at_k_curve(n, c_a, [1, 256, 300]), pass_at_k_curve(n, c_b, [1, 256, 300])
    assert result.k_max == 300 and result.delta_se_k == 256
    assert result.pass1_a.estimate == pytest.approx(curve_a[0], abs=1e-14)
    assert result.pass_kmax_b.estimate == pytest.approx(curve_b[2], abs=1e-14)
    assert result.difference_kmax.estimate == pytest.approx(curve_b[2] - curve_a[2], abs=1e-14)
    assert result.delta_se.estimate == pytest.approx(curve_a[1] - curve_b[0], abs=1e-14)
    for interval in (result.pass1_a, result.pass_kmax_b, result.difference_kmax, result.delta_se):
        assert interval.low <= interval.estimate <= interval.high
    assert result.difference["k"].to_list() == list(range(1, 301))
    assert stats.compare_pair(n, c_a, n, c_b, resamples=300, seed=4).delta_se == result.delta_se
    assert stats.compare_pair(n, c_a, n, c_b, resamples=300, seed=5).delta_se != result.delta_se
    small = stats.compare_pair(np.full(60, 32), c_a % 33, np.full(60, 32), c_b % 33, resamples=50)
    assert small.delta_se_k == 32  # the largest n below the configured 256


def test_support_change_of_the_public_reproduction() -> None:
    """both / base only / RL only / neither = 462 / 19 / 3 / 16 (PAPER.md section 9)."""
    c_base = [1] * 462 + [1] * 19 + [0] * 3 + [0] * 16
    c_rl = [1] * 462 + [0] * 19 + [1] * 3 + [0] * 16
    sets = stats.solvable_sets(c_base, c_rl)
    assert {k: len(v) for k, v in sets.items()} == {"both": 462, "only_a": 19, "only_b": 3, "neither": 16}
    assert sets["only_b"].tolist() == [481, 482, 483]
    change = stats.support_change(c_base, c_rl)
    assert change.srr == 462 / 481 and change.ndr == 3 / 465
    assert change.sds == pytest.approx(2 * (462 / 481) * (3 / 465) / (462 / 481 + 3 / 465), abs=1e-15)
    assert change.nscr == (3 - 19) / 484
    empty = stats.support_change([0, 0], [0, 0])
    assert math.isnan(empty.srr) and math.isnan(empty.ndr) and math.isnan(empty.sds) and math.isnan(empty.nscr)


def _bin_by_fractions(n: int, c: int) -> str:
    accuracy = Fraction(c, n)
    if accuracy == 0:
        return "0"
    if accuracy == 1:
        return "1"
    upper = next(j for j in range(1, 11) if accuracy <= Fraction(j, 10))
    return f"({(upper - 1) / 10:g},{upper / 10:g}{')' if upper == 10 else ']'}"


@pytest.mark.parametrize("n", [7, 10, 128, 1024])
def test_accuracy_bins_match_exact_fractions(n: int) -> None:
    c = np.arange(n + 1)
    got = [stats.ACCURACY_BINS[i] for i in stats.accuracy_bins(np.full(n + 1, n), c)]
    assert got == [_bin_by_fractions(n, int(x)) for x in c]
    assert stats.accuracy_histogram(np.full(n + 1, n), c).sum() == n + 1


def test_bin_edges() -> None:
    bins = stats.accuracy_bins([10, 10, 20, 10, 10], [1, 9, 19, 10, 0])
    assert [stats.ACCURACY_BINS[i] for i in bins] == ["(0,0.1]", "(0.8,0.9]", "(0.9,1)", "1", "0"]


def test_rarely_solved_excludes_the_edge() -> None:
    assert stats.rarely_solved([20, 20, 20, 20], [0, 1, 2, 20], 0.1).tolist() == [1]  # 2/20 = 0.1 is not below
    assert stats.rarely_solved([100], [5], 0.05).tolist() == []


def test_pass_at_k_matrix_equals_elementwise_with_mixed_n() -> None:
    rng = np.random.default_rng(0)
    n = rng.choice([16, 32, 48], 50)
    c = np.array([rng.integers(0, m + 1) for m in n])
    ks = np.array([1, 2, 5, 16])
    np.testing.assert_allclose(pass_at_k_matrix(n, c, ks), pass_at_k(n[:, None], c[:, None], ks[None, :]), atol=0)


def test_resample_weights_are_counts_and_reproducible() -> None:
    weights = stats.resample_weights(37, 500, seed=9)
    assert weights.shape == (500, 37) and np.all(weights.sum(axis=1) == 37)
    assert np.array_equal(weights, stats.resample_weights(37, 500, seed=9))
    assert not np.array_equal(weights, stats.resample_weights(37, 500, seed=10))
    assert abs(weights.mean() - 1) < 0.01


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stats.bootstrap_curve([4, 4], [1], [1]), "differ in length"),
        (lambda: stats.bootstrap_curve([], [], [1]), "no problems"),
        (lambda: stats.bootstrap_curve([4], [1], [1], level=1.0), "level must be in"),
        (lambda: stats.bootstrap_curve([4], [1], [1], resamples=0), "resamples must be"),
        (lambda: stats.bootstrap_curve([4], [1], []), "no k"),
        (lambda: stats.bootstrap_curve([4], [1], [5]), "k > n"),
        (lambda: stats.paired_difference([4, 4], [1, 1], [4], [1], [1]), "same problems"),
        (lambda: stats.posterior_pass_at_k([4], [5], [1]), "0 <= c <= n"),
        (lambda: stats.posterior_pass_at_k([4], [1], [0]), "k must be >= 1"),
        (lambda: stats.solvable_sets([1, 0], [1]), "2 and 1 problems"),
    ],
)
def test_bad_input_is_one_clear_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_delta_se_interval_covers_the_population_gap() -> None:
    """500 simulated pairs of 200 problems: base p ~ Beta(0.5, 1.5); the RL model's pass rate
    is a sharpened p^0.5 on the same problems (paired), n = 16, Delta-SE at k = 16."""
    rng = np.random.default_rng(7)
    p = rng.beta(0.5, 1.5, 400_000)
    truth = float(np.mean(1 - (1 - p) ** 16) - np.mean(np.sqrt(p)))
    covered, simulations = 0, 500
    for s in range(simulations):
        q = rng.beta(0.5, 1.5, 200)
        c_base, c_rl = rng.binomial(16, q), rng.binomial(16, np.sqrt(q))
        n = np.full(200, 16)
        gap = stats.compare_pair(n, c_base, n, c_rl, resamples=1000, seed=s, delta_se_k=16).delta_se
        covered += gap.low <= truth <= gap.high
    assert 0.92 <= covered / simulations <= 0.975, covered / simulations
