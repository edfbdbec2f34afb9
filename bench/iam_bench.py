"""IAM facts at organization scale: the batch authorizer against the per-request loop, in the same run.

    python bench/iam_bench.py [--roles 5000] [--resources 50000] [--accounts 20] [--observed 300000]
                              [--sensitive 0.01] [--loop-sample 3000] [--seed 11]

A synthetic organization shaped like a real one: accounts under OUs with SCPs (one OU denies a
service), roles with shared managed policies (power-law popularity) plus an inline policy each, some
with a permissions boundary; trust policies naming roles and account roots; resources (S3 objects,
KMS keys, SQS queues, Lambda functions), a third with resource policies that name principals, accounts,
services and conditions on aws:PrincipalOrgID / aws:PrincipalTag / aws:SourceIp. The facts computed are
the ones Blastwall keeps: every trust-named (and account-expanded) assume, every observed call, and
every principal against every sensitive resource for its data actions.

Prints the fact count, the batch time, the per-request loop's time per request on a random sample,
the extrapolated loop time and the ratio; checks the two agree on the sample; writes
bench/results/iam-<timestamp>.json. Target (issue #3): 5,000 roles / 50,000 resources in under 2 minutes
on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzer.iam.authorize import Subject, Target, authorize
from analyzer.iam.batch import authorize_many
from analyzer.iam.evaluate import Caller, PolicySet
from analyzer.iam.policy import parse_document

ORG = "o-bench00001"
ACTIONS = {
    "s3": ["s3:GetObject", "s3:PutObject"],
    "kms": ["kms:Decrypt", "kms:GenerateDataKey"],
    "sqs": ["sqs:SendMessage", "sqs:ReceiveMessage"],
    "lambda": ["lambda:InvokeFunction"],
}


def ps(label: str, *statements: dict[str, Any]) -> PolicySet:
    return PolicySet.of(
        label, parse_document({"Version": "2012-10-17", "Statement": list(statements)}, where=label)
    )


def build(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    accounts = [f"{100000000000 + i * 7919:012d}" for i in range(args.accounts)]
    ous = [f"ou-bench-{i}" for i in range(4)]
    ou_of = {a: ous[i % len(ous)] for i, a in enumerate(accounts)}
    full = ps("scp:FullAWSAccess", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    deny_lambda = full + ps("scp:DenyLambda", {"Effect": "Deny", "Action": "lambda:*", "Resource": "*"})
    scp_levels = {
        a: (("root", full), (ou_of[a], deny_lambda if ou_of[a] == ous[3] else full), (a, full))
        for a in accounts
    }
    services = list(ACTIONS)
    # managed policies: a pool, popularity by a Zipf law
    managed = []
    for i in range(200):
        svc = services[i % len(services)]
        stmts: list[dict[str, Any]] = [
            {"Effect": "Allow", "Action": f"{svc}:*" if i % 3 == 0 else ACTIONS[svc], "Resource": "*"}
        ]
        if i % 5 == 0:
            stmts.append(
                {
                    "Effect": "Deny",
                    "Action": f"{svc}:Put*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
                }
            )
        if i % 7 == 0:
            stmts.append({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
        managed.append(ps(f"arn:aws:iam::aws:policy/bench-{i}", *stmts))
    boundaries = [
        ps(
            f"arn:aws:iam::aws:policy/boundary-{i}",
            {"Effect": "Allow", "NotAction": ["iam:*", services[i % 4] + ":Delete*"], "Resource": "*"},
        )
        for i in range(10)
    ]
    roles: list[str] = []
    subjects: list[Subject] = []
    for r in range(args.roles):
        acct = accounts[int(rng.integers(len(accounts)))]
        arn = f"arn:aws:iam::{acct}:role/app-{r}"
        picks = {int(x) % len(managed) for x in rng.zipf(1.5, 2)}
        identity = PolicySet()
        for p in sorted(picks):
            identity = identity + managed[p]
        svc = services[r % len(services)]
        identity = identity + ps(
            f"{arn}#inline:own",
            {"Effect": "Allow", "Action": ACTIONS[svc], "Resource": f"arn:aws:*:*:{acct}:*"},
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::*:role/app-{(r + 1) % args.roles}",
            },
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::team-{r % 50}/${{aws:PrincipalTag/team}}/*",
            },
        )
        subjects.append(
            Subject(
                Caller(arn, acct, "role"),
                identity,
                boundaries[r % 10] if r % 5 == 0 else None,
                scp_levels=scp_levels[acct],
                tags={"team": f"t{r % 50}"},
                org_id=ORG,
            )
        )
        roles.append(arn)
    by_account: dict[str, list[int]] = {}
    for i, s in enumerate(subjects):
        by_account.setdefault(s.caller.account or "", []).append(i)
    # resources
    targets: list[Target] = []
    for k in range(args.resources):
        svc = services[k % len(services)]
        acct = accounts[int(rng.integers(len(accounts)))]
        if svc == "s3":
            arn = f"arn:aws:s3:::bucket-{k}/data/part-{k}.parquet"
        elif svc == "kms":
            arn = f"arn:aws:kms:us-east-1:{acct}:key/{k:08d}-0000-0000-0000-000000000000"
        elif svc == "sqs":
            arn = f"arn:aws:sqs:us-east-1:{acct}:queue-{k}"
        else:
            arn = f"arn:aws:lambda:us-east-1:{acct}:function:fn-{k}"
        policy = None
        if svc == "kms" or rng.random() < 0.33:
            other = roles[int(rng.integers(len(roles)))]
            stmts = [
                {
                    "Sid": "Owner",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                    "Action": f"{svc}:*",
                    "Resource": "*",
                },
                {
                    "Sid": "Partner",
                    "Effect": "Allow",
                    "Principal": {"AWS": other},
                    "Action": ACTIONS[svc],
                    "Resource": "*",
                },
                {
                    "Sid": "Org",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ACTIONS[svc][0],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:PrincipalOrgID": ORG, "aws:PrincipalTag/team": f"t{k % 50}"}
                    },
                },
            ]
            if k % 4 == 0:
                stmts.append(
                    {
                        "Sid": "Network",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                    }
                )
            policy = ps(f"{arn}#policy", *stmts)
        kind = "kms" if svc == "kms" else "policy"
        targets.append(
            Target(
                arn,
                acct,
                kind,
                policy,
                True,
                {"data-classification": "confidential"} if rng.random() < args.sensitive else {},
            )
        )
    # roles as targets of sts:AssumeRole, with trust policies
    role_targets: list[Target] = []
    for r, arn in enumerate(roles):
        acct = subjects[r].caller.account
        named = roles[(r - 1) % len(roles)]
        stmts = [{"Effect": "Allow", "Principal": {"AWS": named}, "Action": "sts:AssumeRole"}]
        if r % 10 == 0:
            stmts.append(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{accounts[(r // 10) % len(accounts)]}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
                }
            )
        role_targets.append(Target(arn, acct, "trust", ps(f"{arn}#trust", *stmts), True, {}))
    return {
        "accounts": accounts,
        "subjects": subjects,
        "targets": targets,
        "role_targets": role_targets,
        "by_account": by_account,
    }


def rows(
    org: dict[str, Any], args: argparse.Namespace
) -> tuple[list[Target], list[str], np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    rng = np.random.default_rng(args.seed + 1)
    subjects, targets, role_targets = org["subjects"], org["targets"], org["role_targets"]
    all_targets = targets + role_targets
    actions = sorted({a for v in ACTIONS.values() for a in v} | {"sts:AssumeRole"})
    aidx = {a: i for i, a in enumerate(actions)}
    s_parts, a_parts, t_parts = [], [], []
    counts: dict[str, int] = {}
    # 1. assume-role facts: trust-named principals, account roots expanded to the account's principals
    n_res = len(targets)
    s_list, t_list = [], []
    for r, t in enumerate(role_targets):
        assert t.policy is not None
        for _, st in t.policy.items:
            for v in st.principals.get("AWS", ()):
                if v.endswith(":root"):
                    members = org["by_account"].get(v.split(":")[4], [])
                    s_list += members
                    t_list += [n_res + r] * len(members)
                else:
                    s_list.append(int(v.rsplit("-", 1)[-1]))
                    t_list.append(n_res + r)
    s_parts.append(np.array(s_list))
    t_parts.append(np.array(t_list))
    a_parts.append(np.full(len(s_list), aidx["sts:AssumeRole"]))
    counts["assume (trust-named)"] = len(s_list)
    # 2. observed calls: principals and resources with power-law popularity
    m = args.observed
    s_obs = rng.integers(0, len(subjects), m)
    t_obs = (rng.zipf(1.3, m) * 7919 + rng.integers(0, n_res, m)) % n_res
    svc_of = [t.arn.split(":")[2] for t in targets]
    a_obs = np.array([aidx[ACTIONS[svc_of[t]][int(rng.integers(len(ACTIONS[svc_of[t]])))]] for t in t_obs])
    s_parts.append(s_obs)
    t_parts.append(t_obs)
    a_parts.append(a_obs)
    counts["observed calls"] = m
    # 3. every principal against every sensitive resource, for its data actions
    sens = [i for i, t in enumerate(targets) if t.tags]
    n = 0
    for i in sens:
        for a in ACTIONS[svc_of[i]]:
            s_parts.append(np.arange(len(subjects)))
            t_parts.append(np.full(len(subjects), i))
            a_parts.append(np.full(len(subjects), aidx[a]))
            n += len(subjects)
    counts[f"sensitive ({len(sens)} resources x principals x actions)"] = n
    return (
        all_targets,
        actions,
        np.concatenate(s_parts).astype(np.int64),
        np.concatenate(a_parts).astype(np.int64),
        np.concatenate(t_parts).astype(np.int64),
        counts,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roles", type=int, default=5000)
    ap.add_argument("--resources", type=int, default=50000)
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--observed", type=int, default=300_000)
    ap.add_argument("--sensitive", type=float, default=0.01, help="Share of resources marked sensitive.")
    ap.add_argument("--loop-sample", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-write", action="store_true", help="Do not write bench/results/.")
    args = ap.parse_args()

    t0 = time.perf_counter()
    org = build(args)
    targets, actions, rs, ra, rt, counts = rows(org, args)
    t_build = time.perf_counter() - t0
    subjects = org["subjects"]

    t0 = time.perf_counter()
    out = authorize_many(subjects, targets, actions, rs, ra, rt)
    t_batch = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed + 2)
    sample = rng.choice(len(rs), size=min(args.loop_sample, len(rs)), replace=False)
    t0 = time.perf_counter()
    loop = [authorize(subjects[int(rs[i])], actions[int(ra[i])], targets[int(rt[i])]).state for i in sample]
    t_loop = (time.perf_counter() - t0) / len(sample)
    batch_states = out.states()[sample].tolist()
    assert batch_states == loop, "batch and per-request decisions disagree"
    explained = [out.decision(int(i)) for i in sample[:200]]
    assert all(d.state == s for d, s in zip(explained, loop[:200], strict=True))

    states, n_states = np.unique(out.states(), return_counts=True)
    loop_total = t_loop * len(rs)
    result = {
        "roles": args.roles,
        "resources": args.resources,
        "accounts": args.accounts,
        "facts": len(rs),
        "facts_by_source": counts,
        "decisions": {str(k): int(v) for k, v in zip(states, n_states, strict=True)},
        "build_s": round(t_build, 2),
        "batch_s": round(t_batch, 2),
        "batch_us_per_fact": round(t_batch / len(rs) * 1e6, 3),
        "loop_us_per_fact": round(t_loop * 1e6, 1),
        "loop_extrapolated_s": round(loop_total, 1),
        "ratio": round(loop_total / t_batch, 1),
        "cpus": os.cpu_count(),
        "target_s": 120,
    }
    print(f"IAM facts: {args.roles} roles, {args.resources} resources, {args.accounts} accounts")
    for k, v in counts.items():
        print(f"  {v:>10,} {k}")
    print(f"  {len(rs):>10,} facts; decisions: {result['decisions']}")
    print(f"{'method':<34}{'per fact':>14}{'all facts':>14}")
    print(f"{'batch (vectorized)':<34}{result['batch_us_per_fact']:>11.2f} us{t_batch:>12.1f} s")
    print(f"{'per-request loop (sampled)':<34}{result['loop_us_per_fact']:>11.1f} us{loop_total:>12.1f} s")
    print(
        f"ratio: {result['ratio']}x; target: all facts under {result['target_s']} s -> "
        f"{'met' if t_batch < result['target_s'] else 'NOT met'}"
    )
    if not args.no_write:
        out_dir = Path(__file__).resolve().parent / "results"
        out_dir.mkdir(exist_ok=True)
        path = out_dir / f"iam-{time.strftime('%Y%m%dT%H%M%S')}.json"
        path.write_text(json.dumps(result, indent=2))
        print(f"written {path}")


if __name__ == "__main__":
    main()
