"""When to try again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

from agentflow.providers.base import ProviderError

MAX_RETRY_AFTER = 120.0  # a server asking for longer than this is treated as a failure


@dataclass(frozen=True)
class RetryPolicy:
    retries: int  # extra attempts after the first
    base_delay: float = 1.0
    max_delay: float = 30.0
    # False on a model that is not the last of an escalate chain: a poor answer moves up
    # the chain at once instead of asking the same model again.
    retry_invalid_output: bool = True

    def delay(self, failed_attempt: int, error: ProviderError, rng: random.Random) -> float:
        """Exponential backoff with jitter; a server's retry-after is a floor, not a hint."""
        exponential = min(self.max_delay, self.base_delay * 2 ** (failed_attempt - 1))
        jittered = exponential * rng.uniform(0.5, 1.0)
        if error.kind == "invalid_output":
            return 0.0  # nothing to wait for: the model answered, just not well
        if error.retry_after is not None:
            return max(error.retry_after, 0.0) + rng.uniform(0.0, self.base_delay * 0.1)
        return jittered

    def should_retry(self, failed_attempt: int, error: ProviderError) -> bool:
        if not error.retryable or failed_attempt > self.retries:
            return False
        if error.kind == "invalid_output" and not self.retry_invalid_output:
            return False
        return error.retry_after is None or error.retry_after <= MAX_RETRY_AFTER
