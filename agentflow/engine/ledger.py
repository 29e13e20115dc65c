"""The hard budget cap: reserve the worst case before spending, so the cap always holds.

Invariant: spent + reserved <= cap, at every moment and any concurrency. A task reserves
its worst case (input counted with a safety margin, `max_tokens` of output, every attempt
it may still make) before it starts; each attempt's real charge is taken from its
reservation; what is left is released when the task ends. A task whose worst case does
not fit is not started.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Reservation:
    task_id: str
    usd: float
    tokens: int


@dataclass(frozen=True)
class Cost:
    usd: float
    tokens: int


class Budget:
    def __init__(self, usd: float | None, tokens: int | None) -> None:
        self.cap_usd = usd
        self.cap_tokens = tokens
        self.spent_usd = 0.0
        self.spent_tokens = 0
        self.reserved_usd = 0.0
        self.reserved_tokens = 0

    @property
    def limited(self) -> bool:
        return self.cap_usd is not None or self.cap_tokens is not None

    def fits(self, worst: Cost, *, counting_reserved: bool = True) -> bool:
        usd = self.spent_usd + (self.reserved_usd if counting_reserved else 0.0) + worst.usd
        tokens = self.spent_tokens + (self.reserved_tokens if counting_reserved else 0)
        tokens += worst.tokens
        return (self.cap_usd is None or usd <= self.cap_usd + 1e-12) and (
            self.cap_tokens is None or tokens <= self.cap_tokens
        )

    def reserve(self, task_id: str, worst: Cost) -> Reservation | None:
        if not self.fits(worst):
            return None
        self.reserved_usd += worst.usd
        self.reserved_tokens += worst.tokens
        return Reservation(task_id, worst.usd, worst.tokens)

    def resize(self, reservation: Reservation, worst: Cost) -> bool:
        """Change a reservation to `worst` (e.g. after an exact token count); False if a
        larger one no longer fits, in which case the reservation is unchanged."""
        grow = Cost(
            max(0.0, worst.usd - reservation.usd), max(0, worst.tokens - reservation.tokens)
        )
        if (grow.usd > 0 or grow.tokens > 0) and not self.fits(grow):
            return False
        self.reserved_usd += worst.usd - reservation.usd
        self.reserved_tokens += worst.tokens - reservation.tokens
        reservation.usd, reservation.tokens = worst.usd, worst.tokens
        return True

    def charge(self, reservation: Reservation, actual: Cost) -> None:
        """Move one attempt's real cost from the reservation to the spent total."""
        self.spent_usd += actual.usd
        self.spent_tokens += actual.tokens
        taken_usd = min(actual.usd, reservation.usd)
        taken_tokens = min(actual.tokens, reservation.tokens)
        reservation.usd -= taken_usd
        reservation.tokens -= taken_tokens
        self.reserved_usd -= taken_usd
        self.reserved_tokens -= taken_tokens

    def covers(self, reservation: Reservation, attempt: Cost) -> bool:
        """Whether what is left of a reservation still pays for one more worst-case attempt."""
        return reservation.usd + 1e-12 >= attempt.usd and reservation.tokens >= attempt.tokens

    def release(self, reservation: Reservation) -> None:
        self.reserved_usd -= reservation.usd
        self.reserved_tokens -= reservation.tokens
        reservation.usd, reservation.tokens = 0.0, 0
