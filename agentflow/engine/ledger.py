"""The hard budget cap: reserve the worst case before spending, so the cap always holds.

Invariant: spent + reserved <= cap, at every moment and any concurrency. A task reserves
its worst case (input counted with a safety margin, `max_tokens` of output, every attempt
it may still make) before it starts; each attempt's real charge is taken from its
reservation; what is left is released when the task ends. A task whose worst case does
not fit is not started. This ledger is the one place the run's spending is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentflow.spec.workflow import BudgetCap

EPSILON_USD = 1e-12  # float sums of prices may land a hair above an exact cap


@dataclass(frozen=True)
class Cost:
    """Dollars and tokens, added and multiplied as one."""

    usd: float = 0.0
    tokens: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.usd + other.usd, self.tokens + other.tokens)

    def __sub__(self, other: Cost) -> Cost:
        return Cost(self.usd - other.usd, self.tokens - other.tokens)

    def __mul__(self, times: int) -> Cost:
        return Cost(self.usd * times, self.tokens * times)

    __rmul__ = __mul__

    def covers(self, other: Cost) -> bool:
        """Whether this much pays for `other`, in dollars and in tokens."""
        return self.usd + EPSILON_USD >= other.usd and self.tokens >= other.tokens


ZERO = Cost()


@dataclass
class Reservation:
    """What one task (or one turn of a sub-call) holds against the cap right now."""

    task_id: str
    held: Cost


class BudgetLedger:
    def __init__(self, cap: BudgetCap) -> None:
        self.cap = cap
        self.spent = ZERO
        self.reserved = ZERO
        self.overran: str | None = None  # why no new work may start, once a charge overran

    @property
    def limited(self) -> bool:
        return self.cap.limited

    def fits(self, worst: Cost, *, counting_reserved: bool = True) -> bool:
        total = self.spent + (self.reserved if counting_reserved else ZERO) + worst
        return (self.cap.usd is None or total.usd <= self.cap.usd + EPSILON_USD) and (
            self.cap.tokens is None or total.tokens <= self.cap.tokens
        )

    def reserve(self, task_id: str, worst: Cost) -> Reservation | None:
        if self.overran is not None or not self.fits(worst):
            return None
        self.reserved += worst
        return Reservation(task_id, worst)

    def resize(self, reservation: Reservation, worst: Cost) -> bool:
        """Change a reservation to `worst` (e.g. after an exact token count); False if a
        larger one no longer fits, in which case the reservation is unchanged."""
        grow = Cost(
            max(0.0, worst.usd - reservation.held.usd),
            max(0, worst.tokens - reservation.held.tokens),
        )
        if grow != ZERO and (self.overran is not None or not self.fits(grow)):
            return False
        self.reserved += worst - reservation.held
        reservation.held = worst
        return True

    def charge(self, reservation: Reservation, actual: Cost) -> None:
        """Move one attempt's real cost from the reservation to the spent total."""
        self.spent += actual
        if self.limited and self.overran is None and not reservation.held.covers(actual):
            self.overran = (
                f"budget: task {reservation.task_id!r} was billed ${actual.usd:.4f} "
                f"({actual.tokens:,} tokens), more than the ${reservation.held.usd:.4f} "
                f"({reservation.held.tokens:,} tokens) held for it; no new work is started "
                "so the cap holds"
            )
        taken = Cost(
            min(actual.usd, reservation.held.usd), min(actual.tokens, reservation.held.tokens)
        )
        reservation.held -= taken
        self.reserved -= taken

    def release(self, reservation: Reservation) -> None:
        self.reserved -= reservation.held
        reservation.held = ZERO

    def shortfall(self, worst: Cost) -> str:
        """Why `worst` cannot be reserved, in a task's error message."""
        left = []
        if self.cap.usd is not None:
            remaining = max(self.cap.usd - self.spent.usd, 0)
            left.append(f"needs up to ${worst.usd:.4f}, ${remaining:.4f} left")
        if self.cap.tokens is not None:
            remaining_tokens = max(self.cap.tokens - self.spent.tokens, 0)
            left.append(f"needs up to {worst.tokens:,} tokens, {remaining_tokens:,} left")
        return "budget: " + "; ".join(left)
