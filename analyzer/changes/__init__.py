"""Normalized change kinds. A registry: adding a kind is adding one module that calls ``register``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from analyzer.errors import BadInput


@dataclass(frozen=True)
class ChangeKind:
    """A change kind: its delta's JSON Schema fragment, an example, and apply/invert on the target's config.

    ``apply(config, delta) -> new config`` and ``invert(config_before, delta) -> delta`` of the rollback.
    ``invertible`` False means the rollback cannot restore what was there (e.g. delete), which raises the tier.
    """

    name: str
    summary: str
    delta_schema: dict[str, Any]
    example: dict[str, Any]
    apply: Callable[[Any, dict[str, Any]], Any] | None
    invert: Callable[[Any, dict[str, Any]], dict[str, Any]] | None
    invertible: bool = True
    inverse_kind: str | None = None
    """The kind of the rollback change (None: the same kind, e.g. a trust policy put back)."""
    target_kind: str = "IamRole"
    """What the change applies to: the node kind of its target (IamRole, SecurityGroup, NetworkInterface)."""


KINDS: dict[str, ChangeKind] = {}


def register(kind: ChangeKind) -> ChangeKind:
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> ChangeKind:
    _ensure_registered()
    try:
        return KINDS[name]
    except KeyError:
        raise BadInput(f"unknown change kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


def validate_delta(kind: ChangeKind, delta: dict[str, Any]) -> None:
    """Check a delta against its kind's schema (the best-matching error, as ``jsonschema.validate``)."""
    from jsonschema.exceptions import best_match

    exc = best_match(_validator(kind.name).iter_errors(delta))
    if exc is not None:
        path = "$.change.delta" + "".join(
            f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path
        )
        raise BadInput(f"{kind.name}: {exc.message}", path=path) from exc


@cache
def _validator(name: str) -> Any:
    """One validator per kind, its schema checked once (checking it on every delta cost milliseconds)."""
    from jsonschema.validators import validator_for

    schema = KINDS[name].delta_schema
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@cache
def _ensure_registered() -> None:
    """Import every provider's change-kind modules (``analyzer.providers``) and the neutral ones."""
    import importlib

    from analyzer import providers

    for module in ("analyzer.changes.opaque", *providers.change_kind_modules()):
        importlib.import_module(module)
