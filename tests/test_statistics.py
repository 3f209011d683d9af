"""Paired comparisons over seeds (the evidence tables' statistics)."""
import math

import pytest
from scipy import stats as scipy_stats

from mmgen_adv.evidence.statistics import mean_std, paired, sign_test


def test_mean_std_is_the_sample_std():
    mean, std = mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert std == pytest.approx(math.sqrt(5 / 3))  # ddof=1
    assert mean_std([7.0]) == (7.0, 0.0)


def test_sign_test_exact_values():
    assert sign_test([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)
    assert sign_test([1, 2, 3, -4, 5]) == pytest.approx(2 * 6 / 32)
    assert sign_test([1, -1]) == 1.0
    assert sign_test([0, 0, 3]) == 1.0  # ties dropped: one sample left
    assert sign_test([0, 0]) == 1.0
    # agrees with scipy's binomial test
    assert sign_test([1] * 9 + [-1] * 2) == pytest.approx(
        scipy_stats.binomtest(2, 11).pvalue)


def test_paired_interval_is_the_t_interval_of_the_differences():
    method = [10.0, 12.0, 11.0, 14.0, 13.0]
    base = [9.0, 10.0, 10.5, 11.0, 12.0]
    result = paired(method, base, higher_is_better=True)
    diffs = [1.0, 2.0, 0.5, 3.0, 1.0]
    assert result['diffs'] == diffs
    low, high = scipy_stats.t.interval(
        0.95, 4, loc=sum(diffs) / 5, scale=scipy_stats.sem(diffs))
    assert result['low'] == pytest.approx(low)
    assert result['high'] == pytest.approx(high)
    assert result['verdict'] == 'better' and result['wins'] == 5


def test_paired_verdicts_follow_the_metric_direction():
    up = [1.0, 1.2, 0.9, 1.1]
    zero = [0.0, 0.0, 0.0, 0.0]
    assert paired(up, zero, higher_is_better=True)['verdict'] == 'better'
    # lower is better (KL, FD): the same difference is worse
    lower = paired(up, zero, higher_is_better=False)
    assert lower['verdict'] == 'worse' and lower['wins'] == 0
    noisy = paired([1.0, -1.0, 2.0, -2.5], zero, higher_is_better=True)
    assert noisy['verdict'] == 'no significant difference'
    assert noisy['low'] < 0 < noisy['high']


def test_paired_needs_matching_seeds():
    with pytest.raises(ValueError, match='same, non-empty seeds'):
        paired([1.0, 2.0], [1.0], True)
    single = paired([2.0], [1.0], True)
    assert single['low'] is None
    assert single['verdict'] == 'no significant difference'
