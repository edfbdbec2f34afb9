"""One policy set against many requests at once.

Requests are columns of small integers: the action, the resource, the caller, the principal-side context
and the resource-side context, each an index into a list of distinct values. Each statement is compiled
once (one regular expression for its actions, one for its resources); it is matched against the
*distinct* actions, resources, callers and contexts only, and the results are gathered to the requests
with NumPy indexing. A condition that reads only principal keys is evaluated once per distinct principal
context, one that reads only resource keys once per distinct resource context. The cost grows with the
number of distinct values, not with the number of requests.

``AssessmentArrays.assessment(i)`` rebuilds exactly what the per-request evaluator
(``analyzer.iam.evaluate.assess``) returns for request ``i``; the test suite checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer.iam.conditions import ContextValue, RequestContext, condition_holds, has_variables
from analyzer.iam.evaluate import Assessment, Caller, F, PolicySet, T, U, resource_tri, statement_principal
from analyzer.iam.match import action_matches, compile_any
from analyzer.iam.policy import Statement

_PRINCIPAL_SIDE = ("aws:principal", "aws:username", "aws:userid")
_RESOURCE_SIDE = ("aws:resource",)


def merged(pctx: dict[str, ContextValue], rctx: dict[str, ContextValue]) -> RequestContext:
    """The full request context from its principal side and its resource side."""
    out = RequestContext(pctx)
    out.update(rctx)
    out.closed = tuple(getattr(pctx, "closed", ())) + tuple(getattr(rctx, "closed", ()))
    return out


@dataclass(frozen=True)
class Requests:
    """Columns of requests; every ``*_idx`` indexes the list of distinct values beside it."""

    actions: Sequence[str]
    action_idx: np.ndarray
    resources: Sequence[str]
    resource_idx: np.ndarray
    pctxs: Sequence[dict[str, ContextValue]]
    pctx_idx: np.ndarray
    rctxs: Sequence[dict[str, ContextValue]] = field(default_factory=lambda: [{}])
    rctx_idx: np.ndarray | None = None
    callers: Sequence[Caller] | None = None
    caller_idx: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.action_idx.shape[0])

    @property
    def rctx_col(self) -> np.ndarray:
        return self.rctx_idx if self.rctx_idx is not None else np.zeros(len(self), dtype=np.int64)

    def context(self, i: int) -> RequestContext:
        return merged(self.pctxs[int(self.pctx_idx[i])], self.rctxs[int(self.rctx_col[i])])

    def caller(self, i: int) -> Caller | None:
        if self.callers is None or self.caller_idx is None:
            return None
        return self.callers[int(self.caller_idx[i])]

    @classmethod
    def build(
        cls,
        rows: Sequence[tuple[str, str, dict[str, ContextValue], Caller | None]],
    ) -> Requests:
        """From (action, resource, context, caller) rows; contexts and callers are grouped by identity
        (pass the same dict object for requests that share a context)."""

        def factor(values: list[Any], key: Any = id) -> tuple[list[Any], np.ndarray]:
            seen: dict[Any, int] = {}
            uniq: list[Any] = []
            idx = np.empty(len(values), dtype=np.int64)
            for i, v in enumerate(values):
                k = key(v)
                j = seen.get(k)
                if j is None:
                    j = seen[k] = len(uniq)
                    uniq.append(v)
                idx[i] = j
            return uniq, idx

        a, ai = factor([r[0] for r in rows], key=lambda v: v)
        rs, ri = factor([r[1] for r in rows], key=lambda v: v)
        cs, ci = factor([r[2] for r in rows])
        has_callers = any(r[3] is not None for r in rows)
        cl, cli = factor([r[3] for r in rows], key=lambda v: v) if has_callers else (None, None)
        return cls(a, ai, rs, ri, cs, ci, callers=cl, caller_idx=cli)


def _side(keys: set[str]) -> str:
    sides = set()
    for k in keys:
        k = k.lower()
        if k.startswith(_PRINCIPAL_SIDE):
            sides.add("p")
        elif k.startswith(_RESOURCE_SIDE):
            sides.add("r")
        else:
            sides.add("x")  # request keys (aws:SourceIp …) come with the principal side's extras
    if sides <= {"p", "x"}:
        return "p"
    if sides == {"r"}:
        return "r"
    return "pr"


def _condition_keys(st: Statement) -> set[str]:
    keys = set()
    for kv in st.conditions.values():
        for k, vals in kv.items():
            keys.add(k)
            for v in vals:
                if has_variables(v):
                    keys.update(x.split(",")[0].strip() for x in _vars(v))
    return keys


def _vars(text: str) -> list[str]:
    import re

    return re.findall(r"\$\{([^}]*)\}", text)


def _grouped(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inverse = np.unique(codes, return_inverse=True)
    return uniq, inverse.reshape(-1)


@dataclass
class AssessmentArrays:
    """Per-request tri-state columns for one policy set, and what is needed to explain any row."""

    allow: np.ndarray
    deny: np.ndarray
    allow_direct: np.ndarray
    match: np.ndarray  # (statements, requests) int8 tri-state
    direct: np.ndarray  # (statements, requests) bool: the statement names the caller itself
    labels: list[str]
    effects: list[str]
    keys: list[dict[int, tuple[str, ...]]]  # per statement: request -> unknown keys (only where U)
    unreadable: np.ndarray  # (requests,) bool: a relevant unreadable statement
    unreadable_notes: list[list[str]]  # per distinct action
    requests: Requests
    policies: PolicySet

    def assessment(self, i: int) -> Assessment:
        allow_st: list[str] = []
        maybe: list[str] = []
        missing: list[str] = []
        deny_st = None
        for s in range(self.match.shape[0]):
            m = int(self.match[s, i])
            if m == F:
                continue
            if self.effects[s] == "Deny":
                if m == T and deny_st is None:
                    deny_st = self.labels[s]
                if m == U:
                    maybe.append(self.labels[s])
                    missing += self.keys[s].get(i, ())
            elif m == T:
                allow_st.append(self.labels[s])
            else:
                maybe.append(self.labels[s])
                missing += self.keys[s].get(i, ())
        if self.unreadable[i]:
            missing += self.unreadable_notes[int(self.requests.action_idx[i])]
        return Assessment(
            int(self.allow[i]),
            int(self.deny[i]),
            int(self.allow_direct[i]),
            tuple(allow_st),
            tuple(maybe),
            deny_st,
            tuple(dict.fromkeys(missing)),
        )


def evaluate_many(policies: PolicySet, req: Requests, *, with_principal: bool = False) -> AssessmentArrays:
    """Assess every request against one policy set. ``with_principal`` for resource-based policies."""
    n = len(req)
    n_st = len(policies.items)
    match = np.zeros((n_st, n), dtype=np.int8)
    direct = np.zeros((n_st, n), dtype=bool)
    keys: list[dict[int, tuple[str, ...]]] = []
    labels, effects = [], []
    callers = req.callers if with_principal else None
    for s, (label, st) in enumerate(policies.items):
        labels.append(f"{label}:{st.label}")
        effects.append(st.effect)
        stkeys: dict[int, tuple[str, ...]] = {}
        keys.append(stkeys)
        # actions: one compiled alternation over the distinct actions
        if st.actions:
            rx = compile_any(st.actions, True)
            ok_a = np.fromiter((rx.fullmatch(a) is not None for a in req.actions), bool, len(req.actions))
        elif st.not_actions:
            rx = compile_any(st.not_actions, True)
            ok_a = np.fromiter((rx.fullmatch(a) is None for a in req.actions), bool, len(req.actions))
        else:
            continue
        m = np.where(ok_a[req.action_idx], T, F).astype(np.int8)
        if not m.any():
            continue
        # resources
        res_keys: np.ndarray | None = None
        pats = st.resources or st.not_resources
        negate = not st.resources and bool(st.not_resources)
        if pats:
            if any(has_variables(p) for p in pats):
                code = req.resource_idx * len(req.pctxs) + req.pctx_idx
                uniq, inv = _grouped(code)
                tri = np.empty(len(uniq), dtype=np.int8)
                kk = np.empty(len(uniq), dtype=object)
                for j, c in enumerate(uniq):
                    r_i, p_i = divmod(int(c), len(req.pctxs))
                    t, k = resource_tri(pats, req.resources[r_i], req.pctxs[p_i])
                    tri[j], kk[j] = t, k
                r = tri[inv]
                res_keys = kk[inv]
            else:
                rx = compile_any(pats, False)
                ok_r = np.fromiter(
                    (rx.fullmatch(x) is not None for x in req.resources), bool, len(req.resources)
                )
                r = np.where(ok_r[req.resource_idx], T, F).astype(np.int8)
            if negate:
                r = (T - r).astype(np.int8)
            m = np.minimum(m, r)
        elif callers is None:
            continue  # an identity statement without Resource matches nothing
        # principals
        if callers is not None:
            assert req.caller_idx is not None
            pm = np.empty(len(callers), dtype=np.int8)
            pd = np.empty(len(callers), dtype=bool)
            for j, c in enumerate(callers):
                pm[j], pd[j] = statement_principal(st, c)
            m = np.minimum(m, pm[req.caller_idx])
            direct[s] = pd[req.caller_idx]
        # conditions
        cond_keys: np.ndarray | None = None
        if st.conditions:
            side = _side(_condition_keys(st))
            if side == "p":
                groups, inv = np.arange(len(req.pctxs)), req.pctx_idx
                ctx_of = [merged(c, {}) for c in req.pctxs]
            elif side == "r":
                groups, inv = np.arange(len(req.rctxs)), req.rctx_col
                ctx_of = [merged({}, c) for c in req.rctxs]
            else:
                code = req.pctx_idx * len(req.rctxs) + req.rctx_col
                groups, inv = _grouped(code)
                ctx_of = [
                    merged(req.pctxs[int(c) // len(req.rctxs)], req.rctxs[int(c) % len(req.rctxs)])
                    for c in groups
                ]
            tri = np.empty(len(groups), dtype=np.int8)
            kk = np.empty(len(groups), dtype=object)
            for j in range(len(groups)):
                held, k = condition_holds(st.conditions, ctx_of[j])
                tri[j] = T if held else U if held is None else F
                kk[j] = k
            m = np.minimum(m, tri[inv])
            cond_keys = kk[inv]
        match[s] = m
        if res_keys is not None or cond_keys is not None:
            for i in np.flatnonzero(m == U):
                ks: tuple[str, ...] = ()
                if res_keys is not None:
                    ks += tuple(res_keys[i])
                if cond_keys is not None:
                    ks += tuple(cond_keys[i])
                stkeys[int(i)] = ks
    is_deny = np.array([e == "Deny" for e in effects], dtype=bool)
    if n_st:
        allow = np.where(is_deny[:, None], F, match).max(axis=0).astype(np.int8)
        deny = np.where(is_deny[:, None], match, F).max(axis=0).astype(np.int8)
        allow_direct = np.where(~is_deny[:, None] & direct, match, F).max(axis=0).astype(np.int8)
    else:
        allow = np.zeros(n, np.int8)
        deny = np.zeros(n, np.int8)
        allow_direct = np.zeros(n, np.int8)
    notes: list[list[str]] = [[] for _ in req.actions]
    unread = np.zeros(n, dtype=bool)
    if policies.unreadable:
        rel = np.zeros(len(req.actions), dtype=bool)
        for j, a in enumerate(req.actions):
            for u in policies.unreadable:
                if u.actions is not None and not action_matches(u.actions, a):
                    continue
                if u.not_actions is not None and action_matches(u.not_actions, a):
                    continue
                rel[j] = True
                notes[j].append(f"unreadable policy statement at {u.where} ({u.message})")
        unread = rel[req.action_idx]
        allow = np.where(unread, np.maximum(allow, U), allow).astype(np.int8)
        deny = np.where(unread, np.maximum(deny, U), deny).astype(np.int8)
    return AssessmentArrays(
        allow, deny, allow_direct, match, direct, labels, effects, keys, unread, notes, req, policies
    )
