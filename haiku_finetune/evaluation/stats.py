"""Statistics for evaluation reports: means with bootstrap intervals, percentiles, paired comparisons.

Everything here is pure, deterministic and standard-library only (no numpy): the same inputs and seed give
the same numbers on every machine.

* [`bootstrap_ci`][haiku_finetune.evaluation.stats.bootstrap_ci] — percentile bootstrap interval of a mean (default 95
%, 2,000 resamples, seed 0).
* [`percentile`][haiku_finetune.evaluation.stats.percentile] — linear interpolation between order statistics (numpy's
default method).
* [`paired_comparison`][haiku_finetune.evaluation.stats.paired_comparison] — two models scored on the same examples:
win/tie/loss counts, the mean
  difference with a paired-bootstrap interval, and significance by a **two-sided paired sign-flip
  permutation test** on the per-example differences (exact enumeration when at most
  `EXACT_PERMUTATION_LIMIT` differences are non-zero, else a seeded Monte Carlo estimate with
  ``resamples`` draws and the usual +1 correction). The exact two-sided **sign test** p-value on wins vs
  losses is reported alongside, for reference only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from itertools import compress

from pydantic import BaseModel, ConfigDict

__all__ = [
    "EXACT_PERMUTATION_LIMIT",
    "PairedComparison",
    "bootstrap_ci",
    "mean",
    "paired_comparison",
    "percentile",
    "permutation_test",
    "sign_test",
]

#: Up to this many non-zero paired differences, the permutation test enumerates every sign pattern.
EXACT_PERMUTATION_LIMIT = 16

# Two statistics closer than this count as equal (guards float round-off in sums of differences).
_EPSILON = 1e-12


def mean(values: Sequence[float]) -> float:
    """Return the arithmetic mean.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("mean of an empty sequence")
    return math.fsum(values) / len(values)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0–100) by linear interpolation between order statistics.

    Matches ``numpy.percentile(values, q)`` (method ``"linear"``).

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside 0–100.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def bootstrap_ci(
    values: Sequence[float], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Return a percentile-bootstrap confidence interval for the mean of ``values``.

    Draws ``resamples`` samples of ``len(values)`` with replacement from a ``random.Random(seed)`` and
    returns the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles of their means.
    Deterministic for a given seed. One value gives a zero-width interval.

    Args:
        values: The per-example scores.
        confidence: The interval's coverage (default 0.95).
        resamples: How many bootstrap samples (default 2,000).
        seed: The random seed.

    Returns:
        ``(low, high)``.

    Raises:
        ValueError: ``values`` is empty, or ``confidence``/``resamples`` are out of range.
    """
    if not values:
        raise ValueError("bootstrap interval of an empty sequence")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    data = [float(v) for v in values]
    if len(data) == 1 or min(data) == max(data):
        return data[0], data[0]
    rng = random.Random(seed)
    n = len(data)
    means = [math.fsum(rng.choices(data, k=n)) / n for _ in range(resamples)]
    tail = (1 - confidence) / 2 * 100
    return percentile(means, tail), percentile(means, 100 - tail)


def sign_test(wins: int, losses: int) -> float:
    """Return the exact two-sided sign-test p-value for ``wins`` vs ``losses`` (ties already dropped).

    Under the null hypothesis each non-tied example is a win with probability 1/2.
    """
    if wins < 0 or losses < 0:
        raise ValueError("wins and losses must be non-negative")
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    # Exact integer arithmetic: the binomial coefficients overflow floats beyond about 1,000 trials.
    tail = sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)
    return min(1.0, 2 * tail)


def permutation_test(differences: Sequence[float], *, resamples: int = 5000, seed: int = 0) -> float:
    """Return the two-sided p-value of a paired sign-flip permutation test.

    The statistic is ``|sum of differences|``. Under the null hypothesis (the two models are exchangeable on
    each example) every difference is equally likely to have either sign. With at most
    `EXACT_PERMUTATION_LIMIT` non-zero differences every sign pattern is enumerated (an exact
    p-value); otherwise ``resamples`` random sign patterns from ``random.Random(seed)`` estimate it as
    ``(1 + extreme) / (1 + resamples)``, which never returns 0.

    Args:
        differences: Per-example differences (model A minus model B).
        resamples: Monte Carlo draws when the exact test is too large.
        seed: The random seed for the Monte Carlo estimate.

    Returns:
        The p-value in (0, 1]; 1.0 when every difference is zero.
    """
    nonzero = [float(d) for d in differences if d != 0]
    if not nonzero:
        return 1.0
    observed = abs(math.fsum(nonzero)) - _EPSILON
    if len(nonzero) <= EXACT_PERMUTATION_LIMIT:
        sums = [0.0]
        for d in nonzero:
            sums = [s + d for s in sums] + [s - d for s in sums]
        return sum(1 for s in sums if abs(s) >= observed) / len(sums)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    rng = random.Random(seed)
    total = math.fsum(nonzero)
    n = len(nonzero)
    extreme = 0
    for _ in range(resamples):
        # Flipping the signs of a subset S turns the sum into total - 2 * sum(S).
        flipped = math.fsum(compress(nonzero, rng.choices((0, 1), k=n)))
        if abs(total - 2 * flipped) >= observed:
            extreme += 1
    return (1 + extreme) / (1 + resamples)


class PairedComparison(BaseModel):
    """Two models compared on the same examples under one scorer.

    Attributes:
        a: The first model's name.
        b: The second model's name.
        scorer: The scorer compared.
        n: Examples where both models have a score (the others are dropped and counted in ``dropped``).
        dropped: Examples left out because either model has no score there.
        wins: Examples where ``a`` scored higher than ``b``.
        ties: Examples where they scored the same.
        losses: Examples where ``a`` scored lower than ``b``.
        mean_a: ``a``'s mean over the ``n`` paired examples.
        mean_b: ``b``'s mean over the same examples.
        mean_difference: ``mean_a - mean_b``.
        ci_low: Low end of the paired-bootstrap interval of the mean difference.
        ci_high: High end of that interval.
        p_value: Two-sided p-value of the paired sign-flip permutation test.
        sign_test_p: Exact two-sided sign-test p-value on wins vs losses (for reference).
        alpha: The significance level.
        significant: ``p_value < alpha``.
        better: The name of the significantly better model, or ``None``.
        test: The name of the test that decided ``significant``.
    """

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    scorer: str
    n: int
    dropped: int
    wins: int
    ties: int
    losses: int
    mean_a: float | None
    mean_b: float | None
    mean_difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float
    sign_test_p: float
    alpha: float
    significant: bool
    better: str | None
    test: str = "two-sided paired sign-flip permutation test"

    def __str__(self) -> str:
        head = f"{self.scorer}: {self.a} vs {self.b}: {self.wins} wins, {self.ties} ties, {self.losses} losses"
        if self.mean_difference is None:
            return f"{head} (no paired examples)"
        verdict = (
            f"{self.better} is better (p = {self.p_value:.3g} < {self.alpha:g})"
            if self.better
            else f"no significant difference (p = {self.p_value:.3g})"
        )
        return (
            f"{head}; mean difference {self.mean_difference:+.4g} [{self.ci_low:+.4g}, {self.ci_high:+.4g}]; {verdict}"
        )


def paired_comparison(
    scores_a: Sequence[float | None],
    scores_b: Sequence[float | None],
    *,
    a: str = "a",
    b: str = "b",
    scorer: str = "score",
    alpha: float = 0.05,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> PairedComparison:
    """Compare two models' per-example scores on the same examples.

    Args:
        scores_a: Model A's score on each example (``None`` = unscored; such pairs are dropped).
        scores_b: Model B's score on the same examples, in the same order.
        a: Model A's name.
        b: Model B's name.
        scorer: The scorer's name.
        alpha: The significance level (default 0.05).
        confidence: Coverage of the mean difference's bootstrap interval.
        resamples: Bootstrap draws, and Monte Carlo draws of the permutation test when it is not exact.
        seed: The random seed (results are deterministic for a seed).

    Returns:
        The comparison; ``significant`` comes from the permutation test.

    Raises:
        ValueError: The two sequences differ in length or ``alpha`` is not in (0, 1).
    """
    if len(scores_a) != len(scores_b):
        raise ValueError(f"paired scores must align: {len(scores_a)} for {a!r} vs {len(scores_b)} for {b!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    pairs = [(x, y) for x, y in zip(scores_a, scores_b, strict=True) if x is not None and y is not None]
    differences = [x - y for x, y in pairs]
    wins = sum(1 for d in differences if d > _EPSILON)
    losses = sum(1 for d in differences if d < -_EPSILON)
    ties = len(differences) - wins - losses
    mean_a: float | None = None
    mean_b: float | None = None
    mean_difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value = 1.0
    if pairs:
        mean_a = mean([x for x, _ in pairs])
        mean_b = mean([y for _, y in pairs])
        mean_difference = mean(differences)
        ci_low, ci_high = bootstrap_ci(differences, confidence=confidence, resamples=resamples, seed=seed)
        p_value = permutation_test(
            [0.0 if abs(d) <= _EPSILON else d for d in differences], resamples=resamples, seed=seed
        )
    significant = p_value < alpha
    better = None
    if significant and mean_difference is not None and mean_difference != 0:
        better = a if mean_difference > 0 else b
    return PairedComparison(
        a=a,
        b=b,
        scorer=scorer,
        n=len(pairs),
        dropped=len(scores_a) - len(pairs),
        wins=wins,
        ties=ties,
        losses=losses,
        mean_a=mean_a,
        mean_b=mean_b,
        mean_difference=mean_difference,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        sign_test_p=sign_test(wins, losses),
        alpha=alpha,
        significant=significant,
        better=better,
    )
