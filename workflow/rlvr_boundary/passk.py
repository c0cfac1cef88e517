"""Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), averaged over problems.

The ratio C(n-c, k) / C(n, k) equals prod_{j<k} (n-c-j)/(n-j): a running product whose
factors are each rounded once, so for every k <= n the float error stays below ~k ulp
(about 1e-13 at k = 2048) -- no factorials, no cancellation. For a fixed n it depends only
on c, so we build one table row per distinct (n, c) and look problems up in it: cost
O(distinct c x max k) vectorised, independent of the number of problems or samples.

This module knows nothing about models, samples or verifiers: it takes counts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.ArrayLike


def _as_int_array(name: str, values: IntArray) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(f"pass@k: {name} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _check(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> None:
    n, c, k = np.broadcast_arrays(n, c, k)
    if np.any(n < 1):
        raise ValueError(f"pass@k: n must be >= 1 (got min n = {n.min()})")
    if np.any(c < 0):
        raise ValueError(f"pass@k: c must be >= 0 (got min c = {c.min()})")
    if np.any(c > n):
        bad = np.argwhere(c > n)[0]
        raise ValueError(f"pass@k: c > n at index {tuple(bad)}: c={c[tuple(bad)]}, n={n[tuple(bad)]}")
    if np.any(k < 1):
        raise ValueError(f"pass@k: k must be >= 1 (got min k = {k.min()})")
    if np.any(k > n):
        bad = np.argwhere(k > n)[0]
        raise ValueError(
            f"pass@k: k > n at index {tuple(bad)}: k={k[tuple(bad)]}, n={n[tuple(bad)]} "
            "(pass@k is only defined for k <= the number of samples)"
        )


def _per_problem(n: IntArray, c: IntArray, ks: IntArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-problem n and c (equal length, at least one problem) and the ks, as 1-D int arrays."""
    n_arr = _as_int_array("n", n).reshape(-1)
    c_arr = _as_int_array("c", c).reshape(-1)
    k_arr = _as_int_array("ks", ks).reshape(-1)
    if n_arr.shape != c_arr.shape:
        raise ValueError(f"pass@k: n and c differ in length ({n_arr.size} vs {c_arr.size})")
    if n_arr.size == 0:
        raise ValueError("pass@k: no problems")
    return n_arr, c_arr, k_arr


def _miss_table(n: int, cs: np.ndarray, k_max: int) -> np.ndarray:
    """P(all k draws miss) = C(n-c,k)/C(n,k) for each c in ``cs`` and k = 0..k_max."""
    j = np.arange(k_max, dtype=np.float64)
    factors = np.clip(n - cs[:, None].astype(np.float64) - j, 0.0, None) / (n - j)
    table = np.ones((len(cs), k_max + 1), dtype=np.float64)
    np.cumprod(factors, axis=1, out=table[:, 1:])
    return table


def pass_at_k(n: IntArray, c: IntArray, k: IntArray) -> np.ndarray:
    """Per-problem unbiased pass@k, broadcasting n (samples), c (correct) and k.

    Raises ValueError for k > n, c > n, k < 1, n < 1, c < 0 or non-integer input.
    """
    n_arr, c_arr, k_arr = np.broadcast_arrays(_as_int_array("n", n), _as_int_array("c", c), _as_int_array("k", k))
    _check(n_arr, c_arr, k_arr)
    out = np.empty(n_arr.shape, dtype=np.float64)
    for n_value in np.unique(n_arr):  # one pass per distinct sample count, not per problem
        mask = n_arr == n_value
        cs, inverse = np.unique(c_arr[mask], return_inverse=True)
        ks = k_arr[mask]
        out[mask] = 1.0 - _miss_table(int(n_value), cs, int(ks.max()))[inverse, ks]
    return out


def pass_at_k_curve(n: IntArray, c: IntArray, ks: IntArray) -> np.ndarray:
    """Mean pass@k over problems for each k in ``ks`` (a 1-D numpy array, one value per k).

    ``n`` and ``c`` are per-problem arrays of equal length. Every k must be <= every n: a
    problem with fewer samples is an error, never silently padded (cf. PAPER.md hazard 4).
    """
    n_arr, c_arr, k_arr = _per_problem(n, c, ks)
    if k_arr.size == 0:
        return np.empty(0, dtype=np.float64)
    _check(n_arr[:, None], c_arr[:, None], k_arr[None, :])
    curve = np.zeros(k_arr.size, dtype=np.float64)
    pairs, weights = np.unique(np.stack([n_arr, c_arr], axis=1), axis=0, return_counts=True)
    for n_value in np.unique(pairs[:, 0]):
        rows = pairs[:, 0] == n_value
        table = _miss_table(int(n_value), pairs[rows, 1], int(k_arr.max()))
        curve += weights[rows] @ (1.0 - table[:, k_arr])
    return curve / n_arr.size


def pass_at_k_matrix(n: IntArray, c: IntArray, ks: IntArray) -> np.ndarray:
    """Per-problem pass@k as a (problems x len(ks)) matrix: row i is problem i's curve.

    Built from one miss-table row per distinct (n, c), like ``pass_at_k_curve``, so its cost
    grows with the distinct counts, not with the problems; the statistics resample its rows.
    """
    n_arr, c_arr, k_arr = _per_problem(n, c, ks)
    matrix = np.empty((n_arr.size, k_arr.size), dtype=np.float64)
    if k_arr.size == 0:
        return matrix
    _check(n_arr[:, None], c_arr[:, None], k_arr[None, :])
    for n_value in np.unique(n_arr):
        rows = np.flatnonzero(n_arr == n_value)
        cs, inverse = np.unique(c_arr[rows], return_inverse=True)
        matrix[rows] = 1.0 - _miss_table(int(n_value), cs, int(k_arr.max()))[:, k_arr][inverse]
    return matrix
