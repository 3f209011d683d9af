"""Comparing training runs over seeds: summaries and paired tests.

A method and the base model trained with the same seeds share their data
order, noise and initialisation, so their difference is measured per seed
(a paired comparison): the mean difference with a 95% Student-t interval,
and an exact two-sided sign test. A difference is called significant when
the interval excludes 0 (the sign test is reported beside it; with 5 seeds
its smallest possible p-value is 0.0625, so it alone can never reach 5%).
"""
import math

from scipy import stats as scipy_stats


def mean_std(values):
    """Mean and sample standard deviation (``ddof=1``; 0 for one value)."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    var = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def sign_test(differences):
    """Exact two-sided sign test of "the median difference is 0"; ties (0)
    are dropped. Returns the p-value (1.0 without any non-zero value)."""
    positive = sum(d > 0 for d in differences)
    negative = sum(d < 0 for d in differences)
    n = positive + negative
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(positive, negative) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired(method, base, higher_is_better, level=0.95):
    """Paired comparison of per-seed values ``method[i]`` vs ``base[i]``.

    Returns a dict: ``diffs`` (method - base per seed), ``mean``, ``low``,
    ``high`` (the ``level`` t-interval of the mean difference; ``None``
    with fewer than 2 seeds), ``sign_p``, ``wins`` (seeds where the method
    is better), ``n``, and ``verdict``: ``'better'``, ``'worse'`` (the
    interval excludes 0) or ``'no significant difference'``.
    """
    if len(method) != len(base) or not method:
        raise ValueError('paired comparison needs the same, non-empty seeds '
                         f'for both (got {len(method)} and {len(base)})')
    diffs = [float(m) - float(b) for m, b in zip(method, base)]
    n = len(diffs)
    mean, std = mean_std(diffs)
    low = high = None
    if n >= 2:
        half = scipy_stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    sign = 1 if higher_is_better else -1
    wins = sum(sign * d > 0 for d in diffs)
    verdict = 'no significant difference'
    if low is not None and (low > 0 or high < 0):
        verdict = 'better' if sign * mean > 0 else 'worse'
    return dict(diffs=diffs, mean=mean, low=low, high=high,
                sign_p=sign_test(diffs), wins=wins, n=n, verdict=verdict)
