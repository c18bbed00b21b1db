"""The link's replay rate limit (a token bucket), without the network."""

from __future__ import annotations

from edge_agent.link import _RateLimiter


def test_token_bucket_allows_its_burst_then_refills_with_time() -> None:
    bucket = _RateLimiter(rate=1000.0, burst=50)
    assert bucket.allowance() == 50
    bucket.spend(50)
    assert bucket.allowance() <= 1  # (a millisecond may have passed)
    bucket.stamp -= 0.02  # 20 ms later: 20 more messages
    assert 20 <= bucket.allowance() <= 22
    bucket.stamp -= 10.0  # never more than the burst
    assert bucket.allowance() == 50


def test_zero_rate_means_unlimited() -> None:
    bucket = _RateLimiter(rate=0.0, burst=10)
    bucket.spend(10**6)
    assert bucket.allowance() >= 10**9
