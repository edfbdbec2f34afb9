"""Errors that carry where the problem is: file, JSON path or line, field."""

from __future__ import annotations


class BlastwallError(Exception):
    """Base class: an error the CLI reports without a traceback (exit code 1)."""

    exit_code = 1


class BadInput(BlastwallError):
    """Input we cannot use: names the file and, where known, the JSON path, line and field (exit code 2)."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file:
            loc = self.file
            if self.line is not None:
                loc += f":{self.line}"
                if self.column is not None:
                    loc += f":{self.column}"
            where.append(loc)
        if self.path:
            where.append(f"at {self.path}")
        prefix = " ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class StoreVersionError(BlastwallError):
    """The store was written by a newer schema version than this Blastwall understands."""


class StoreLocked(BlastwallError):
    """Another process holds the store's write lock longer than we are willing to wait."""
