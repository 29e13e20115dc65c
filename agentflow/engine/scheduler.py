"""Which task may start next: a ready queue shaped like `graphlib.TopologicalSorter`.

`dynamic` (the default) releases a task the moment its last need succeeds; when more
tasks are ready than there are slots, the one with the longest remaining path to the end
of the DAG goes first (critical-path-first list scheduling), which keeps the makespan
close to max(critical path, total work / concurrency). The priorities are the plan's
(`PlannedTask.remaining_seconds`): paths weighed by each task's real duration in earlier
runs where the history knew it, else by its estimate. `waves` releases a wave only when
the previous one has wholly finished: simpler to reason about, and the baseline.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Literal

ScheduleMode = Literal["dynamic", "waves"]


class ReadyQueue:
    def __init__(
        self,
        needs: Mapping[str, Sequence[str]],
        priority: Mapping[str, float],
        waves: Sequence[Sequence[str]],
        mode: ScheduleMode = "dynamic",
    ) -> None:
        self._order = {tid: i for i, tid in enumerate(needs)}
        self._priority = priority
        self._mode = mode
        self._waves = [list(w) for w in waves]
        self._wave_of = {tid: i for i, wave in enumerate(waves) for tid in wave}
        self._waiting_on = {tid: len(set(deps)) for tid, deps in needs.items()}
        self._dependents: dict[str, list[str]] = {tid: [] for tid in needs}
        for tid, deps in needs.items():
            for dep in set(deps):
                self._dependents[dep].append(tid)
        self._heap: list[tuple[float, int, str]] = []
        self._held: list[str] = []  # ready, but their wave has not opened yet
        self._open_wave = 0
        self._unfinished_in_wave = [len(w) for w in self._waves]
        self._outstanding = len(needs)
        self._stopped = False
        for tid, count in self._waiting_on.items():
            if count == 0:
                self._release(tid)

    def _release(self, tid: str) -> None:
        if self._stopped:
            return
        if self._mode == "waves" and self._wave_of[tid] > self._open_wave:
            self._held.append(tid)
            return
        heapq.heappush(self._heap, (-self._priority.get(tid, 0.0), self._order[tid], tid))

    def pop(self) -> str | None:
        """The most urgent ready task, or None when nothing is ready now."""
        return heapq.heappop(self._heap)[2] if self._heap else None

    def requeue(self, tid: str) -> None:
        """Put back a task that was popped but could not start yet (budget, cache warm-up)."""
        if not self._stopped:
            heapq.heappush(self._heap, (-self._priority.get(tid, 0.0), self._order[tid], tid))

    def has_ready(self) -> bool:
        return bool(self._heap)

    def is_active(self) -> bool:
        return self._outstanding > 0

    def done(self, tid: str, succeeded: bool) -> list[str]:
        """Mark `tid` finished. On failure, returns the tasks that can now never run
        (every descendant not finished yet), which are also taken as finished."""
        self._finish(tid)
        if succeeded:
            for dependent in self._dependents[tid]:
                self._waiting_on[dependent] -= 1
                if self._waiting_on[dependent] == 0:
                    self._release(dependent)
            return []
        # A descendant already finished (below another failed task) is not doomed again.
        doomed = [t for t in self._descendants(tid) if self._waiting_on[t] >= 0]
        for dependent in doomed:
            self._finish(dependent)
        return doomed

    def stop(self) -> None:
        """Release nothing more: a stopping run lets what is in flight end, starts no more."""
        self._heap.clear()
        self._held.clear()
        self._stopped = True

    def _descendants(self, tid: str) -> list[str]:
        seen: set[str] = set()
        stack = list(self._dependents[tid])
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self._dependents[current])
        return sorted(seen, key=self._order.__getitem__)

    def _finish(self, tid: str) -> None:
        if self._waiting_on.get(tid, 0) < 0:
            return  # already finished (a descendant of two failed tasks)
        self._waiting_on[tid] = -1
        self._outstanding -= 1
        wave = self._wave_of[tid]
        self._unfinished_in_wave[wave] -= 1
        while (
            self._mode == "waves"
            and self._open_wave < len(self._waves)
            and self._unfinished_in_wave[self._open_wave] == 0
        ):
            self._open_wave += 1
            held, self._held = self._held, []
            for task in held:
                self._release(task)
