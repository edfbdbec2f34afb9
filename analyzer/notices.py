"""Things a command repaired or noticed on the way that its user should hear about (the CLI prints them
to standard error; a library caller can collect them)."""

from __future__ import annotations

from collections.abc import Callable

HOOK: Callable[[str], None] | None = None


def say(message: str) -> None:
    if HOOK is not None:
        HOOK(message)
