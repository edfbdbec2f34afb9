"""AWS's whole decision for many requests at once: rows of (subject, action, target).

Each kind of policy is evaluated with the vectorized evaluator, one call per *distinct* policy set:
subjects whose identity policies are the same documents share one call, so do subjects with the same
boundary and accounts with the same SCP chain, and each resource policy is evaluated once against every
row that targets it. The per-row results are combined with the same ``combine`` the per-request path
uses; ``BatchDecisions.decision(i)`` explains any row with the statements that decided it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from analyzer.iam.applicability import ServiceRule, service_rule
from analyzer.iam.authorize import (
    NOTHING,
    Parts,
    Subject,
    Target,
    _unknown,
    authorize,
    combine,
    effective_target,
    explain,
    principal_context,
    resource_context,
)
from analyzer.iam.evaluate import Assessment, Decision, F, PolicySet, T, U
from analyzer.iam.vector import AssessmentArrays, Requests, evaluate_many

STATES = np.array(["denied", "conditional", "allowed"])


@dataclass
class _Levels:
    """The SCP levels of one chain evaluated for a group of rows."""

    allow: np.ndarray
    deny: np.ndarray
    allow_direct: np.ndarray
    levels: list[tuple[str, AssessmentArrays | Assessment]]


Evaluated = AssessmentArrays | Assessment | _Levels


def policy_key(ps: PolicySet | None) -> Hashable:
    """Two policy sets made of the same parsed statements (e.g. the same managed policies, parsed once
    per snapshot) evaluate alike for the same request."""
    if ps is None:
        return None
    return tuple((label, id(st)) for label, st in ps.items) + tuple(id(u) for u in ps.unreadable)


def statements_key(ps: PolicySet | None) -> Hashable:
    """Like ``policy_key`` without the labels: policy sets of the same statement objects evaluate alike
    for the same request whatever document each statement is labelled with."""
    if ps is None:
        return None
    return tuple(id(st) for _, st in ps.items), tuple(id(u) for u in ps.unreadable)


@dataclass
class _Column:
    """Where each row's assessment of one policy type lives (for explanations)."""

    arrays: list[Evaluated]
    group: np.ndarray
    local: np.ndarray

    def get(self, i: int) -> Assessment:
        a = self.arrays[int(self.group[i])]
        if isinstance(a, Assessment):
            return a
        assert isinstance(a, AssessmentArrays)
        return a.assessment(int(self.local[i]))


@dataclass
class BatchDecisions:
    state: np.ndarray
    """Tri-state per row: 0 denied, 1 conditional, 2 allowed."""
    _explain: Callable[[int], Decision]

    def decision(self, i: int) -> Decision:
        return self._explain(i)

    def states(self) -> np.ndarray:
        return STATES[self.state]


def authorize_many(
    subjects: Sequence[Subject],
    targets: Sequence[Target],
    actions: Sequence[str],
    row_subject: np.ndarray,
    row_action: np.ndarray,
    row_target: np.ndarray,
    extra: dict[str, str | list[str]] | None = None,
    *,
    group_by_statements: bool = False,
) -> BatchDecisions:
    """``group_by_statements``: group identity policies and boundaries by the statements they consist
    of, whatever document each came from (principals whose inline policies share their parsed statements,
    see ``analyzer.scoring.context``, are one evaluation). The states are the same; ``decision(i)`` is
    then the per-request ``authorize`` of that row (an explanation names the row's own documents)."""
    n = int(row_subject.shape[0])
    key_of = statements_key if group_by_statements else policy_key
    # the target each (target, action) pair sees: a role's trust policy only for the assume family
    targets, row_target, ruled = _effective(targets, actions, row_target, row_action)
    pctxs = [principal_context(s, extra) for s in subjects]
    rctxs = [resource_context(t) for t in targets]
    arns = [t.arn for t in targets]
    callers = [s.caller for s in subjects]

    def requests(rows: np.ndarray) -> Requests:
        a_u, a_inv = np.unique(row_action[rows], return_inverse=True)
        t_u, t_inv = np.unique(row_target[rows], return_inverse=True)
        s_u, s_inv = np.unique(row_subject[rows], return_inverse=True)
        return Requests(
            [actions[i] for i in a_u],
            a_inv.reshape(-1),
            [arns[i] for i in t_u],
            t_inv.reshape(-1),
            [pctxs[i] for i in s_u],
            s_inv.reshape(-1),
            [rctxs[i] for i in t_u],
            t_inv.reshape(-1),
            [callers[i] for i in s_u],
            s_inv.reshape(-1),
        )

    session = np.zeros(n, np.int8)

    def column(
        keys: list[Hashable], per_row: np.ndarray, run: Callable[[Hashable, np.ndarray], Evaluated]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Column]:
        """Evaluate one policy type: rows grouped by ``keys[per_row[i]]``. Also fills ``session[rows]``
        (grants no boundary limits) for the resource column's use."""
        allow = np.empty(n, np.int8)
        deny = np.empty(n, np.int8)
        direct = np.empty(n, np.int8)
        session.fill(F)
        group = np.empty(n, np.int64)
        local = np.zeros(n, np.int64)
        arrays: list[Evaluated] = []
        codes: dict[Hashable, int] = {}
        key_code = np.array([codes.setdefault(k, len(codes)) for k in keys], dtype=np.int64)
        row_code = key_code[per_row] if n else np.empty(0, np.int64)
        order = np.argsort(row_code, kind="stable")
        bounds = np.flatnonzero(np.diff(row_code[order])) + 1
        inverse = {c: k for k, c in codes.items()}
        for rows in np.split(order, bounds) if n else []:
            key = inverse[int(row_code[rows[0]])]
            res = run(key, rows)
            g = len(arrays)
            arrays.append(res)
            group[rows] = g
            if isinstance(res, Assessment):
                allow[rows], deny[rows], direct[rows] = res.allow, res.deny, res.allow_direct
                session[rows] = res.allow_session
            else:
                allow[rows], deny[rows], direct[rows] = res.allow, res.deny, res.allow_direct
                local[rows] = np.arange(len(rows))
                if isinstance(res, AssessmentArrays) and res.allow_session is not None:
                    session[rows] = res.allow_session
        return allow, deny, direct, _Column(arrays, group, local)

    # identity policies, grouped by the documents they consist of
    def id_key(s: Subject) -> Hashable:
        if s.caller.kind in ("service", "federated", "anonymous"):
            return ("none",)
        if s.identity is None:
            return ("unknown", s.caller.arn)
        return key_of(s.identity)

    id_keys = [id_key(s) for s in subjects]
    by_key = {k: s for k, s in zip(id_keys, subjects, strict=True)}

    def run_identity(key: Hashable, rows: np.ndarray) -> Evaluated:
        s = by_key[key]
        if key == ("none",):
            return NOTHING
        if s.identity is None:
            return _unknown(f"identity policies of {s.caller.arn} (not in the snapshot)")
        return evaluate_many(s.identity, requests(rows))

    ia, idn, idir, id_col = column(id_keys, row_subject, run_identity)

    # permissions boundaries
    b_keys = [key_of(s.boundary) if s.boundary is not None else None for s in subjects]
    b_by = {k: s.boundary for k, s in zip(b_keys, subjects, strict=True)}
    no_boundary = Assessment(T, F, F)

    def run_boundary(key: Hashable, rows: np.ndarray) -> Evaluated:
        ps = b_by[key]
        return no_boundary if ps is None else evaluate_many(ps, requests(rows))

    ba, bdn, _, b_col = column(b_keys, row_subject, run_boundary)
    has_boundary = np.array([s.boundary is not None for s in subjects], bool)

    # SCPs: every level of the subject's account path, grouped by the chain
    def scp_key(s: Subject) -> Hashable:
        if s.scp_exempt or s.caller.kind not in ("role", "user", "root") or not s.scp_levels:
            return None
        return tuple((node, policy_key(ps)) for node, ps in s.scp_levels)

    s_keys = [scp_key(s) for s in subjects]
    s_by = {k: s.scp_levels for k, s in zip(s_keys, subjects, strict=True)}

    def run_scps(key: Hashable, rows: np.ndarray) -> Evaluated:
        if key is None:
            return Assessment(T, F, F)
        return _levels(s_by[key], requests(rows), len(rows), "SCPs", with_principal=False)

    sa, sdn, _, s_col = column(s_keys, row_subject, run_scps)

    # RCPs: every level of the target account's path (already dropped for services RCPs do not cover)
    def rcp_key(t: Target) -> Hashable:
        return tuple((node, policy_key(ps)) for node, ps in t.rcp_levels) if t.rcp_levels else None

    rc_keys = [rcp_key(t) for t in targets]
    rc_by = {k: t.rcp_levels for k, t in zip(rc_keys, targets, strict=True)}

    def run_rcps(key: Hashable, rows: np.ndarray) -> Evaluated:
        if key is None:
            return Assessment(T, F, F)
        return _levels(rc_by[key], requests(rows), len(rows), "RCPs", with_principal=True)

    rc_col: _Column | None = None
    if any(k is not None for k in rc_keys):
        rca, rcdn, _, rc_col = column(rc_keys, row_target, run_rcps)
        slr = np.array([s.service_linked for s in subjects], bool)[row_subject]
        rca, rcdn = np.where(slr, T, rca), np.where(slr, F, rcdn)  # RCPs do not restrict service-linked roles
    else:  # no target carries RCPs (none enabled, or no RCP service among the actions)
        rca, rcdn = np.full(n, T, np.int8), np.zeros(n, np.int8)

    # resource policies, one evaluation per target
    def run_resource(key: Hashable, rows: np.ndarray) -> Evaluated:
        assert isinstance(key, int)
        t = targets[key]
        if t.kind == "none":
            return NOTHING
        if not t.policy_known:
            return _unknown(f"resource policy of {t.arn} (not collected)")
        if t.policy is None:
            return NOTHING
        return evaluate_many(t.policy, requests(rows), with_principal=True)

    ra, rdn, rdir, r_col = column(list(range(len(targets))), row_target, run_resource)
    rsess = session.copy()  # grants no boundary or session policy limits (a session ARN, a wildcard)

    outside = np.array([s.caller.kind in ("service", "federated", "anonymous") for s in subjects], bool)[
        row_subject
    ]
    s_acct = np.array([s.caller.account or "" for s in subjects], dtype=object)[row_subject]
    t_acct = np.array([t.account or "-" for t in targets], dtype=object)[row_target]
    same = outside | (s_acct == t_acct)
    required = outside | np.array([t.kind in ("trust", "kms") for t in targets], bool)[row_target]
    is_role = np.array([s.caller.kind == "role" for s in subjects], bool)[row_subject]
    final = combine(
        identity=(ia, idn, idir),
        boundary=(np.where(has_boundary[row_subject], ba, T), np.where(has_boundary[row_subject], bdn, F), 0),
        scps=[(sa, sdn, 0), (rca, rcdn, 0)],
        resource=(ra, rdn, rdir),
        same_account=same,
        caller_is_role=is_role,
        required=required,
        session_direct=rsess,
    ).astype(np.int8)
    # what only single requests carry (a session policy, a VPC endpoint on the path) is decided per row
    alone = (
        {
            int(i)
            for i in np.flatnonzero(
                np.array([s.session_policy is not None or s.endpoint is not None for s in subjects], bool)[
                    row_subject
                ]
            )
        }
        if n
        else set()
    )
    for i in alone:
        final[i] = _STATE[
            authorize(
                subjects[int(row_subject[i])], actions[int(row_action[i])], targets[int(row_target[i])], extra
            ).state
        ]
    for i, rule in ruled.items():  # AWS's own rules decide these rows whatever the policies say
        final[i] = T if rule.state == "allowed" else F

    def explain_row(i: int) -> Decision:
        if i in ruled:
            return Decision(ruled[i].state, (), reason=ruled[i].reason)
        s = subjects[int(row_subject[i])]
        t = targets[int(row_target[i])]
        if group_by_statements or i in alone:  # decide this row alone (group labels; session, endpoint)
            return authorize(s, actions[int(row_action[i])], t, extra)
        holder = s_col.arrays[int(s_col.group[i])]
        scps: list[tuple[str, Assessment]] = []
        if isinstance(holder, _Levels):
            j = int(s_col.local[i])
            scps = [(node, a if isinstance(a, Assessment) else a.assessment(j)) for node, a in holder.levels]
        rcps: list[tuple[str, Assessment]] = []
        rholder = rc_col.arrays[int(rc_col.group[i])] if rc_col is not None else None
        if isinstance(rholder, _Levels) and rc_col is not None and not s.service_linked:
            j = int(rc_col.local[i])
            rcps = [(node, a if isinstance(a, Assessment) else a.assessment(j)) for node, a in rholder.levels]
        parts = Parts(
            id_col.get(i),
            b_col.get(i) if s.boundary is not None else None,
            scps,
            r_col.get(i),
            rcps=rcps,
        )
        return explain(parts, int(final[i]), same=bool(same[i]), required=bool(required[i]), target=t)

    return BatchDecisions(final, explain_row)


_STATE = {"denied": F, "conditional": U, "allowed": T}


def _levels(
    chain: Sequence[tuple[str, PolicySet]], req: Requests, m: int, what: str, *, with_principal: bool
) -> _Levels:
    """Every level of an organization path (root ... OU ... account) must allow; any may deny. A level
    with no policy at all was not collected (AWS attaches a full-access policy to every level)."""
    levels: list[tuple[str, AssessmentArrays | Assessment]] = []
    allow = np.full(m, T, np.int8)
    deny = np.full(m, F, np.int8)
    for node, ps in chain:
        if not ps.items and not ps.unreadable:
            a: AssessmentArrays | Assessment = Assessment(
                U, F, F, missing=(f"{what} attached to {node} (none in the snapshot)",)
            )
            allow = np.minimum(allow, U)
        else:
            a = evaluate_many(ps, req, with_principal=with_principal)
            allow = np.minimum(allow, a.allow)
            deny = np.maximum(deny, a.deny)
        levels.append((node, a))
    return _Levels(allow, deny, np.zeros(m, np.int8), levels)


def _effective(
    targets: Sequence[Target], actions: Sequence[str], row_target: np.ndarray, row_action: np.ndarray
) -> tuple[list[Target], np.ndarray, dict[int, ServiceRule]]:
    """Targets as each row's action sees them (``effective_target``), re-indexed; and the rows AWS's own
    rules decide (``service_rule``), by row."""
    out = list(targets)
    index: dict[tuple[int, int], int] = {}
    new_rows = np.array(row_target, dtype=np.int64, copy=True)
    ruled: dict[int, ServiceRule] = {}
    # one code per (target, action) pair: far cheaper to make unique than a stacked array along an axis
    width = max(len(actions), 1)
    code = np.asarray(row_target, np.int64) * width + np.asarray(row_action, np.int64)
    uniq, inverse = (
        np.unique(code, return_inverse=True) if len(code) else (np.empty(0, np.int64), np.empty(0, np.int64))
    )
    mapped = np.empty(len(uniq), np.int64)
    rules: dict[int, ServiceRule] = {}
    for j in range(len(uniq)):
        ti, ai = divmod(int(uniq[j]), width)
        t = targets[ti]
        rule = service_rule(actions[ai], t.arn, t.role_path)
        if rule is not None:
            rules[j] = rule
        eff = effective_target(t, actions[ai])
        if eff is t:
            mapped[j] = ti
        else:
            key = (ti, ai)
            if key not in index:
                index[key] = len(out)
                out.append(eff)
            mapped[j] = index[key]
    inverse = inverse.reshape(-1)
    if len(row_target):
        new_rows = mapped[inverse]
        if rules:
            for i in np.flatnonzero(np.isin(inverse, np.fromiter(rules, np.int64, len(rules)))):
                ruled[int(i)] = rules[int(inverse[i])]
    return out, new_rows, ruled
