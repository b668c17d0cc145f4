"""pass@1, pass^k and pass@k (tau-bench) from call verdicts: exact values and intervals."""

from __future__ import annotations

from math import comb

import numpy as np

from simulator.metrics.reliability import pass_at_k, pass_hat_k, reliability


def _calls(outcomes: list[bool | None], cell: dict[str, str] | None = None) -> list[dict]:
    return [{"matrix": cell or {}, "verdict": {"passed": p}} for p in outcomes]


def test_closed_forms_match_tau_bench_definitions() -> None:
    assert pass_hat_k(10, 7, 3) == comb(7, 3) / comb(10, 3)
    assert pass_at_k(10, 7, 3) == 1 - comb(3, 3) / comb(10, 3)
    assert pass_hat_k(5, 5, 5) == 1.0 and pass_hat_k(5, 4, 5) == 0.0
    # the estimator is unbiased for p^k: its mean over all outcomes of n Bernoulli(p) is p^k
    n, k, p = 8, 3, 0.6
    mean = sum(comb(n, c) * p**c * (1 - p) ** (n - c) * pass_hat_k(n, c, k) for c in range(n + 1))
    assert abs(mean - p**k) < 1e-12


def test_a_scenario_with_mixed_repeats_is_flaky_with_intervals_around_its_figures() -> None:
    r = reliability(_calls([True, False, True, True, None, True]))
    assert r is not None
    assert (r["n"], r["passed"], r["undecided"], r["k"]) == (5, 4, 1, 5)
    assert r["flaky"] and r["flaky_cells"] == [{}]
    for key in ("pass_at_1", "pass_hat_k", "pass_at_k"):
        lo, hi = r[key]["ci"]
        assert 0 <= lo <= r[key]["value"] <= hi <= 1
    assert r["curve"][1]["value"] == round(pass_hat_k(5, 4, 2), 4)


def test_cells_are_averaged_and_only_mixed_cells_are_flaky() -> None:
    calls = _calls([True, True], {"v": "a"}) + _calls([True, False], {"v": "b"})
    r = reliability(calls)
    assert r is not None and r["cells"] == 2 and r["k"] == 2
    assert r["pass_hat_k"]["value"] == 0.5  # (1 + 0) / 2
    assert r["flaky_cells"] == [{"v": "b"}]
    assert reliability(_calls([None, None])) is None


def test_the_interval_covers_p_to_the_k_in_seeded_trials() -> None:
    rng = np.random.default_rng(0)
    p, n, k = 0.7, 12, 3
    covered = 0
    for _ in range(400):
        outcomes = [bool(x) for x in rng.random(n) < p]
        lo, hi = reliability(_calls(outcomes), k=k)["pass_hat_k"]["ci"]  # type: ignore[index]
        covered += lo <= p**k <= hi
    assert covered >= 0.93 * 400, covered
