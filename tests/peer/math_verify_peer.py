"""A pytest plugin: math-verify's own test suite judged by our grader.

Loaded into a pytest run inside math-verify's sdist (``tests/test_verify_math_peer.py``
starts it): every test module's ``compare_strings(gold, pred, ...)`` helper is replaced by our
``verify(pred, gold)``, with the gold's outer ``$`` removed, so each of the suite's cases
asserts that our verdict equals math-verify's expected one. The outcome and parameters of
every case go to the JSON file named by ``RLVR_PEER_OUT``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from rlvr_boundary.verify.math import verify

_RESULTS: list[dict[str, Any]] = []


def _without_dollars(gold: str) -> str:
    text = gold.strip()
    for delimiter in ("$$", "$"):
        if len(text) > 2 * len(delimiter) and text.startswith(delimiter) and text.endswith(delimiter):
            return text[len(delimiter) : -len(delimiter)]
    return text


def _compare_with_ours(gold: str, pred: str, *args: object, **kwargs: object) -> int:
    grader = os.environ.get("RLVR_PEER_GRADER", "ours")
    return int(verify(pred, _without_dollars(gold), grader=grader).correct)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "compare_strings"):
            module.compare_strings = _compare_with_ours


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.when == "call":
        params = getattr(getattr(item, "callspec", None), "params", {})
        _RESULTS.append(
            {
                "test": item.nodeid.split("::")[0].split("/")[-1] + "::" + getattr(item, "originalname", item.name),
                "gold": params.get("gold"),
                "pred": params.get("pred"),
                "expected": params.get("expected"),
                "agrees": report.passed,
            }
        )
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    with open(os.environ["RLVR_PEER_OUT"], "w", encoding="utf-8") as out:
        json.dump(_RESULTS, out, default=str)
