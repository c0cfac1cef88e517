"""Uncertainty and count-based analyses of pass@k: per-problem counts in, numbers out.

Two intervals answer two questions:

- the **problem bootstrap** (``bootstrap_curve``, ``paired_difference``, ``compare_pair``):
  how much would the curve move on another draw of problems from the same population? It
  resamples problems with replacement (each problem's own sampling noise travels with it),
  so it covers both sources of noise for the population mean of pass@k;
- the **Beta posterior** (``posterior_pass_at_k``, Hariri et al. 2025): how sure are we of
  pass@k on *these* problems given only n samples each? Per problem p ~ Beta(1 + c,
  1 + n - c); it ignores which problems were drawn.

Every bootstrap is one resample-weight matrix (resamples x problems) against the
per-problem pass@k matrix (problems x k): a single matrix product, no loop over resamples.
Paired statistics use the same weights for both models, so problems stay matched.

Arrays are per problem and matched by position. Like ``passk``, this module knows no
model, sample or verifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from rlvr_boundary.passk import IntArray, pass_at_k_matrix

ACCURACY_BINS = (
    "0",
    "(0,0.1]",
    "(0.1,0.2]",
    "(0.2,0.3]",
    "(0.3,0.4]",
    "(0.4,0.5]",
    "(0.5,0.6]",
    "(0.6,0.7]",
    "(0.7,0.8]",
    "(0.8,0.9]",
    "(0.9,1)",
    "1",
)
"""The paper's Fig. 5 / 13 bins of per-problem accuracy c/n: exactly 0, ten tenths, exactly 1."""

SOLVABLE_SETS = ("both", "only_a", "only_b", "neither")
"""Problems solved at least once (c > 0) by both models, only the first, only the second, neither."""


def _counts(n: IntArray, c: IntArray, name: str = "") -> tuple[np.ndarray, np.ndarray]:
    n_arr, c_arr = np.asarray(n).reshape(-1), np.asarray(c).reshape(-1)
    if n_arr.shape != c_arr.shape:
        raise ValueError(f"stats{name}: n and c differ in length ({n_arr.size} vs {c_arr.size})")
    if n_arr.size == 0:
        raise ValueError(f"stats{name}: no problems")
    return n_arr.astype(np.int64), c_arr.astype(np.int64)


def _check_level(level: float, resamples: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"stats: level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"stats: resamples must be >= 1, got {resamples}")


def resample_weights(problems: int, resamples: int, seed: int) -> np.ndarray:
    """How often each problem is drawn in each bootstrap resample: (resamples x problems).

    Rows sum to ``problems``; one seeded draw of indices, counted with a single bincount.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, problems, size=(resamples, problems))
    flat = (draws + problems * np.arange(resamples)[:, None]).reshape(-1)
    return np.bincount(flat, minlength=resamples * problems).reshape(resamples, problems).astype(np.float64)


def _quantiles(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high


def _ks(ks: IntArray) -> np.ndarray:
    k_arr = np.asarray(ks).reshape(-1)
    if k_arr.size == 0:
        raise ValueError("stats: no k")
    return k_arr


def bootstrap_curve(
    n: IntArray, c: IntArray, ks: IntArray, *, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> pl.DataFrame:
    """pass@k at each k with its problem-bootstrap percentile interval.

    Columns ``k``, ``pass_at_k`` (the unbiased estimate on all problems), ``low``, ``high``.
    """
    _check_level(level, resamples)
    n_arr, c_arr = _counts(n, c)
    k_arr = _ks(ks)
    matrix = pass_at_k_matrix(n_arr, c_arr, k_arr)
    curves = resample_weights(n_arr.size, resamples, seed) @ matrix / n_arr.size
    low, high = _quantiles(curves, level)
    return pl.DataFrame({"k": k_arr, "pass_at_k": matrix.mean(axis=0), "low": low, "high": high})


def paired_difference(
    n_a: IntArray,
    c_a: IntArray,
    n_b: IntArray,
    c_b: IntArray,
    ks: IntArray,
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pl.DataFrame:
    """pass@k of b minus pass@k of a on the same problems, with a paired bootstrap interval.

    Columns ``k``, ``difference`` (b - a), ``low``, ``high``.
    """
    _check_level(level, resamples)
    pair = _Pair.of(n_a, c_a, n_b, c_b, _ks(ks), resamples, seed)
    return _difference_frame(
        pair.ks, pair.matrix_b - pair.matrix_a, pair.resampled(pair.matrix_b - pair.matrix_a), level
    )


def _difference_frame(ks: np.ndarray, difference: np.ndarray, resampled: np.ndarray, level: float) -> pl.DataFrame:
    low, high = _quantiles(resampled, level)
    return pl.DataFrame({"k": ks, "difference": difference.mean(axis=0), "low": low, "high": high})


def posterior_pass_at_k(n: IntArray, c: IntArray, ks: IntArray) -> pl.DataFrame:
    """Posterior mean and sd of mean pass@k over these problems, p_i ~ Beta(1 + c_i, 1 + n_i - c_i).

    E[(1 - p)^k] = B(1 + c, 1 + n - c + k) / B(1 + c, 1 + n - c) = prod_{j<k} (1 + n - c + j) /
    (2 + n + j): a running product, like the unbiased estimator's, per distinct (n, c). The
    per-problem variance is E[(1 - p)^(2k)] - E[(1 - p)^k]^2; the mean's sd is
    sqrt(sum of variances) / problems (problems independent). Columns ``k``, ``mean``, ``sd``.
    """
    n_arr, c_arr = _counts(n, c)
    k_arr = _ks(ks)
    if np.any(c_arr < 0) or np.any(c_arr > n_arr) or np.any(n_arr < 1):
        raise ValueError("stats: need 0 <= c <= n and n >= 1 for every problem")
    if np.any(k_arr < 1):
        raise ValueError(f"stats: k must be >= 1 (got min k = {k_arr.min()})")
    pairs, weights = np.unique(np.stack([n_arr, c_arr], axis=1), axis=0, return_counts=True)
    j = np.arange(2 * int(k_arr.max()), dtype=np.float64)
    miss = np.ones((len(pairs), j.size + 1))
    np.cumprod((1 + pairs[:, :1] - pairs[:, 1:] + j) / (2 + pairs[:, :1] + j), axis=1, out=miss[:, 1:])
    first, second = miss[:, k_arr], miss[:, 2 * k_arr]
    variance = np.clip(second - first**2, 0.0, None)
    mean = weights @ (1.0 - first) / n_arr.size
    sd = np.sqrt(weights @ variance) / n_arr.size
    return pl.DataFrame({"k": k_arr, "mean": mean, "sd": sd})


def first_k_at_or_below_zero(difference: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Per row of ``difference`` (rows x len(ks)), the first k where it is <= 0; 0 where none is."""
    hit = difference <= 0
    first = np.argmax(hit, axis=-1)
    return np.where(hit.any(axis=-1), ks[first], 0)


@dataclass(frozen=True)
class Interval:
    """An estimate and its percentile interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Crossover:
    """The smallest k at which a (the base) reaches b (the RL model): a >= b.

    ``k`` is None when the curves do not cross within the k computed ("none within n");
    ``low``/``high`` bound it over resamples, None where that quantile does not cross;
    ``none_share`` is the share of resamples without a crossing.
    """

    k: int | None
    low: int | None
    high: int | None
    none_share: float


@dataclass(frozen=True)
class SupportChange:
    """Wu et al. 2025: preserved P (both), expanded E (only b), shrunk S (only a), out O (neither).

    SRR = P/(P+S), NDR = E/(P+E), SDS = their harmonic mean, NSCR = (E - S)/(P + E + S);
    NaN where a denominator is 0.
    """

    preserved: int
    expanded: int
    shrunk: int
    out: int

    @property
    def srr(self) -> float:
        return _ratio(self.preserved, self.preserved + self.shrunk)

    @property
    def ndr(self) -> float:
        return _ratio(self.expanded, self.preserved + self.expanded)

    @property
    def sds(self) -> float:
        srr, ndr = self.srr, self.ndr
        return _ratio(2 * srr * ndr, srr + ndr) if np.isfinite(srr + ndr) else float("nan")

    @property
    def nscr(self) -> float:
        return _ratio(self.expanded - self.shrunk, self.preserved + self.expanded + self.shrunk)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def solvable_sets(c_a: IntArray, c_b: IntArray) -> dict[str, np.ndarray]:
    """Positions of the problems in each of ``SOLVABLE_SETS`` (solved = at least one correct)."""
    solved_a, solved_b = np.asarray(c_a).reshape(-1) > 0, np.asarray(c_b).reshape(-1) > 0
    if solved_a.shape != solved_b.shape:
        raise ValueError(f"stats: the two models have {solved_a.size} and {solved_b.size} problems")
    masks = (solved_a & solved_b, solved_a & ~solved_b, ~solved_a & solved_b, ~solved_a & ~solved_b)
    return {name: np.flatnonzero(mask) for name, mask in zip(SOLVABLE_SETS, masks, strict=True)}


def support_change(c_base: IntArray, c_rl: IntArray) -> SupportChange:
    """How RL moved the set of problems solved at least once, from the solvable sets."""
    sets = solvable_sets(c_base, c_rl)
    return SupportChange(len(sets["both"]), len(sets["only_b"]), len(sets["only_a"]), len(sets["neither"]))


def accuracy_bins(n: IntArray, c: IntArray) -> np.ndarray:
    """Each problem's bin index into ``ACCURACY_BINS``: 0 if c = 0, 11 if c = n, else ceil(10 c / n).

    Integer arithmetic, so 0.1 exactly falls in (0, 0.1] and nothing near a bin edge moves.
    """
    n_arr, c_arr = _counts(n, c)
    inner = -((-10 * c_arr) // n_arr)  # ceil(10 c / n) in 1..10 for 0 < c < n
    return np.where(c_arr == 0, 0, np.where(c_arr == n_arr, len(ACCURACY_BINS) - 1, inner))


def accuracy_histogram(n: IntArray, c: IntArray) -> np.ndarray:
    """Problem counts per bin of ``ACCURACY_BINS``."""
    return np.bincount(accuracy_bins(n, c), minlength=len(ACCURACY_BINS))


def rarely_solved(n: IntArray, c: IntArray, below: float) -> np.ndarray:
    """Positions of problems with mean accuracy in (0, below): where a lucky guess can pass."""
    n_arr, c_arr = _counts(n, c)
    return np.flatnonzero((c_arr > 0) & (c_arr < below * n_arr))


@dataclass(frozen=True)
class PairComparison:
    """Everything the statistics table says about a (base a, other b) pair on one benchmark."""

    k_max: int
    pass1_a: Interval
    pass1_b: Interval
    pass_kmax_a: Interval
    pass_kmax_b: Interval
    difference_kmax: Interval
    crossover: Crossover
    delta_se_k: int
    delta_se: Interval
    support: SupportChange
    difference: pl.DataFrame
    """b - a at every k from 1 to k_max with its paired interval (as ``paired_difference``)."""


@dataclass(frozen=True)
class _Pair:
    """Two models' per-problem pass@k matrices and the shared resample weights."""

    ks: np.ndarray
    matrix_a: np.ndarray
    matrix_b: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(
        cls, n_a: IntArray, c_a: IntArray, n_b: IntArray, c_b: IntArray, ks: np.ndarray, resamples: int, seed: int
    ) -> _Pair:
        n_a_arr, c_a_arr = _counts(n_a, c_a, " (model a)")
        n_b_arr, c_b_arr = _counts(n_b, c_b, " (model b)")
        if n_a_arr.size != n_b_arr.size:
            raise ValueError(f"stats: a paired comparison needs the same problems ({n_a_arr.size} vs {n_b_arr.size})")
        return cls(
            ks,
            pass_at_k_matrix(n_a_arr, c_a_arr, ks),
            pass_at_k_matrix(n_b_arr, c_b_arr, ks),
            resample_weights(n_a_arr.size, resamples, seed),
        )

    def resampled(self, matrix: npt.NDArray[np.float64]) -> np.ndarray:
        """The column means of ``matrix`` under every resample: (resamples x columns)."""
        return self.weights @ matrix / matrix.shape[0]


def crossover(
    curve_a: np.ndarray,
    curve_b: np.ndarray,
    resampled_a: np.ndarray,
    resampled_b: np.ndarray,
    ks: np.ndarray,
    level: float,
) -> Crossover:
    """The first k with a >= b on the full data and its percentile interval over resamples.

    A resample without a crossing counts as beyond every k, so the interval's upper end is
    None ("none within n") once more than (1 - level) / 2 of the resamples never cross.
    """
    point = int(first_k_at_or_below_zero(curve_b - curve_a, ks))
    per_resample = first_k_at_or_below_zero(resampled_b - resampled_a, ks).astype(np.float64)
    per_resample[per_resample == 0] = np.inf
    low, high = np.quantile(per_resample, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return Crossover(
        point or None,
        int(low) if np.isfinite(low) else None,
        int(high) if np.isfinite(high) else None,
        float(np.mean(np.isinf(per_resample))),
    )


def compare_pair(
    n_a: IntArray,
    c_a: IntArray,
    n_b: IntArray,
    c_b: IntArray,
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    delta_se_k: int = 256,
) -> PairComparison:
    """Base a vs model b on the same problems, every k from 1 to the smallest n, one set of resamples.

    ``k_max`` is that smallest n; Delta-SE = a's pass@k_se - b's pass@1 with
    k_se = min(delta_se_k, k_max) (the paper's k = 256 where n allows).
    """
    _check_level(level, resamples)
    (n_a, c_a), (n_b, c_b) = _counts(n_a, c_a, " (model a)"), _counts(n_b, c_b, " (model b)")
    k_max = int(min(n_a.min(), n_b.min()))
    ks = np.arange(1, k_max + 1)
    pair = _Pair.of(n_a, c_a, n_b, c_b, ks, resamples, seed)
    curve_a, curve_b = pair.matrix_a.mean(axis=0), pair.matrix_b.mean(axis=0)
    resampled_a, resampled_b = pair.resampled(pair.matrix_a), pair.resampled(pair.matrix_b)

    def interval(point: float, values: np.ndarray) -> Interval:
        low, high = _quantiles(values, level)
        return Interval(float(point), float(low), float(high))

    k_se = min(delta_se_k, k_max)
    return PairComparison(
        k_max=k_max,
        pass1_a=interval(curve_a[0], resampled_a[:, 0]),
        pass1_b=interval(curve_b[0], resampled_b[:, 0]),
        pass_kmax_a=interval(curve_a[-1], resampled_a[:, -1]),
        pass_kmax_b=interval(curve_b[-1], resampled_b[:, -1]),
        difference_kmax=interval(curve_b[-1] - curve_a[-1], resampled_b[:, -1] - resampled_a[:, -1]),
        crossover=crossover(curve_a, curve_b, resampled_a, resampled_b, ks, level),
        delta_se_k=k_se,
        delta_se=interval(curve_a[k_se - 1] - curve_b[0], resampled_a[:, k_se - 1] - resampled_b[:, 0]),
        support=support_change(c_a, c_b),
        difference=_difference_frame(ks, pair.matrix_b - pair.matrix_a, resampled_b - resampled_a, level),
    )
