"""The boundary between a cloud (or platform) and the model: what each provider brings, in one place.

Everything else is provider-neutral: the graph schema and both stores, the snapshot arrays, the numeric
core, propagation and impact, tiers, governance, the app and the CLI's shape. A provider declares

* the **ids** it owns (prefixes of node ids) and which account, subscription or cluster an id names;
* its **change kinds** (modules that ``analyzer.changes.register`` kinds), and per target node kind the
  **scorer** that re-decides what such a change touches (``(ctx, proposal, start, as_of) -> Outcome``);
* per change kind, an optional **safer alternative** (``(proposal, ctx, policy, as_of, severed,
  rescore) -> dict | None``; ``rescore`` scores a modified proposal the same way);
* what its **evidence sources** are called (``cloudtrail`` is "CloudTrail") and which one a change of its
  is judged by when its scorer does not say;
* the **directory parts** ``load_directory`` reads (``aws/``, ``kubernetes/``, ...), in the order they
  must load (configuration before the evidence that is attributed to it).

Functions are named ``"module:function"`` and imported when first used, so declaring a provider costs
nothing and this module imports no provider code. Adding a provider is one module here plus its own
connectors, semantics and change kinds; nothing neutral changes.

>>> provider_of("arn:aws:iam::111122223333:role/etl").name
'aws'
>>> account_of("k8s://615294837560/us-east-1/fraud-eks/namespaces/fraud/pods/p")
'615294837560'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True)
class DirectoryPart:
    """A subdirectory ``load_directory`` reads: ``load(store, path, seen) -> errors``."""

    name: str
    phase: str
    load: str
    order: int


@dataclass(frozen=True)
class Provider:
    name: str
    id_prefixes: tuple[str, ...]
    account_of: Callable[[str], str]
    change_kinds: tuple[str, ...] = ()
    scorers: Mapping[str, str] = field(default_factory=dict)
    """Target node kind -> ``"module:function"`` of its scorer."""
    alternatives: Mapping[str, str] = field(default_factory=dict)
    """Change kind name -> ``"module:function"`` proposing a safer change."""
    evidence: Mapping[str, str] = field(default_factory=dict)
    """Evidence source -> what users call it."""
    default_evidence: tuple[str, ...] = ()
    directory: tuple[DirectoryPart, ...] = ()


BUILTIN = ("analyzer.providers.aws", "analyzer.providers.kubernetes", "analyzer.providers.azure")
_PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    _PROVIDERS[provider.name] = provider
    return provider


def providers() -> list[Provider]:
    """Every registered provider, the built-in ones first."""
    _load_builtin()
    return list(_PROVIDERS.values())


@cache
def _load_builtin() -> None:
    for module in BUILTIN:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a provider that exists but fails to import is a bug, not an absence
                raise


def provider_of(node_id: str) -> Provider | None:
    """The provider whose ids ``node_id`` has (None: an id no provider owns, e.g. a CMDB item)."""
    for p in providers():
        if node_id.startswith(p.id_prefixes):
            return p
    return None


def account_of(node_id: str) -> str:
    """The account (AWS), subscription (Azure) or cluster's account an id names; "" if none."""
    p = provider_of(node_id)
    return p.account_of(node_id) if p is not None else ""


def function(ref: str) -> Callable[..., Any]:
    """``"module:function"`` -> the function (its module imported now)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@cache
def scorers() -> dict[str, str]:
    """Target node kind -> scorer, over every provider (a kind two providers claim is a bug)."""
    out: dict[str, str] = {}
    for p in providers():
        for kind, ref in p.scorers.items():
            if kind in out and out[kind] != ref:
                raise RuntimeError(f"target kind {kind} is scored by two providers")
            out[kind] = ref
    return out


def scorer(target_kind: str) -> Callable[..., Any] | None:
    ref = scorers().get(target_kind)
    return function(ref) if ref else None


def alternative(change_kind: str) -> Callable[..., Any] | None:
    for p in providers():
        if change_kind in p.alternatives:
            return function(p.alternatives[change_kind])
    return None


def change_kind_modules() -> list[str]:
    return [m for p in providers() for m in p.change_kinds]


def evidence_name(sources: tuple[str, ...]) -> str:
    """What users call the evidence ``sources`` (e.g. ``("flowlogs",)`` -> "VPC flow log")."""
    names = {k: v for p in providers() for k, v in p.evidence.items()}
    return " or ".join(names.get(s, s) for s in sources)


def default_evidence(target: str) -> tuple[str, ...]:
    """The evidence a change of ``target`` is judged by when its scorer does not say."""
    p = provider_of(target)
    if p is not None and p.default_evidence:
        return p.default_evidence
    return ("cloudtrail",)


def directory_parts() -> list[DirectoryPart]:
    return sorted((d for p in providers() for d in p.directory), key=lambda d: d.order)
