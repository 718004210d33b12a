"""Retries on UNAVAILABLE for idempotent calls, with exponential back-off and full jitter.

Every `webinar.v1` call is safe to repeat (reads, upserts, and creates that carry a
`request_id`, which the clients fill in), so the clients retry them all; other codes are
answers, not accidents, and are raised at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    max_attempts: int = 5
    """Attempts in total, including the first; 1 disables retries."""
    initial_backoff: float = 0.1
    """Seconds; the ceiling of the first pause, doubled on each retry."""
    max_backoff: float = 5.0
    """Seconds; the largest pause."""

    def backoff(self, retry: int) -> float:
        """The pause before retry number `retry` (0-based), uniform in [0, ceiling]."""
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** min(retry, 20)))
        return random.uniform(0, ceiling)

    def should_retry(self, code: grpc.StatusCode | None, attempt: int) -> bool:
        """Whether a failed attempt (1-based) with `code` is tried again."""
        return code == grpc.StatusCode.UNAVAILABLE and attempt < self.max_attempts


NO_RETRY = RetryPolicy(max_attempts=1)
