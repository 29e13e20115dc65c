"""Problems found in user input, and the one exception type that carries them to the CLI.

Every stage reports what is wrong as `Problem` values instead of raising on the first
one, so `validate` can show the whole list at once. A stage that cannot go on raises
`AgentflowError`, which the CLI turns into messages and an exit code (never a traceback).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal


class ExitCode(IntEnum):
    OK = 0
    TASK_FAILED = 1
    INVALID = 2
    BUDGET = 3
    INTERRUPTED = 130


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a user's file, with where and how to fix it."""

    file: str
    message: str
    line: int | None = None  # 1-based
    col: int | None = None  # 1-based
    hint: str | None = None
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        text = f"{where}: {self.severity}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


def has_errors(problems: list[Problem]) -> bool:
    return any(p.is_error for p in problems)


class AgentflowError(Exception):
    """A fatal condition for a command: the problems explain it, exit_code ends the process."""

    def __init__(self, problems: list[Problem], exit_code: ExitCode = ExitCode.INVALID) -> None:
        self.problems = problems
        self.exit_code = exit_code
        super().__init__("; ".join(p.format() for p in problems))

    @classmethod
    def single(
        cls,
        file: str,
        message: str,
        hint: str | None = None,
        exit_code: ExitCode = ExitCode.INVALID,
        line: int | None = None,
    ) -> AgentflowError:
        return cls([Problem(file=file, message=message, hint=hint, line=line)], exit_code)
