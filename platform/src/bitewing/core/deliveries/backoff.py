"""Retry timing: exponential backoff with full jitter, capped."""

from __future__ import annotations

import random
from datetime import timedelta


def retry_delay(
    attempt: int, *, base_seconds: float, cap_seconds: float, rng: random.Random | None = None
) -> timedelta:
    """How long to wait before attempt `attempt + 1` (attempt counts from 1): a random time in
    [delay/2, delay] where delay = base * 2^(attempt-1), at most `cap_seconds`."""
    delay = min(cap_seconds, base_seconds * 2 ** max(attempt - 1, 0))
    return timedelta(seconds=(rng or random).uniform(delay / 2, delay))
