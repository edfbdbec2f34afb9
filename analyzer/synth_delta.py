"""Split a ``blastwall synth`` directory into what a store held yesterday and what one more day brings.

``base``: everything but the last day of CloudTrail and flow logs (links, not copies). ``delta``: that
last day's log files, and the AWS snapshot collected again with 1 % of its resources changed the way a day
changes them: roles retagged, interfaces re-described, security groups given a rule, and a few
interfaces deleted (their evidence goes with them). Deterministic for a seed.

    python -m analyzer.synth_delta /tmp/synth-l --out /tmp/day     # -> /tmp/day/base, /tmp/day/delta

``bench/run.py`` uses it to time a day's update at L; the tests, to check that a store and its analysis
brought up to date by difference equal ones built from scratch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

SHARE = 0.01
DELETED_SHARE = 0.002


def last_day(root: Path) -> str:
    """The newest yyyy/mm/dd directory of the synth's log files."""
    days = {"/".join(p.parts[-4:-1]) for p in (root / "flowlogs").rglob("*.gz")}
    days |= {"/".join(p.parts[-4:-1]) for p in (root / "cloudtrail").rglob("*.gz")}
    return max(days)


def split(
    root: Path, out: Path, seed: int = 1, share: float = SHARE, deleted: float = DELETED_SHARE
) -> dict[str, Any]:
    """Write ``out/base`` and ``out/delta`` (see the module docstring): ``share`` of the resources
    changed, ``deleted`` of the interfaces gone."""
    day = last_day(root)
    base, delta = out / "base", out / "delta"
    for d in (base, delta):
        if d.exists():
            shutil.rmtree(d)
    moved = 0
    for part in ("cloudtrail", "flowlogs"):
        for p in sorted((root / part).rglob("*.gz")):
            rel = p.relative_to(root)
            to = (delta if "/".join(rel.parts[-4:-1]) == day else base) / rel
            to.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(p.resolve(), to)
            moved += to.is_relative_to(delta)
    for part in ("servicenow", "findings", "policy"):
        if (root / part).exists():
            os.symlink((root / part).resolve(), base / part)
    os.symlink((root / "aws").resolve(), base / "aws")
    changed = _changed_snapshot(root / "aws", delta / "aws", random.Random(seed), share, deleted)
    return {"day": day, "delta_log_files": moved, **changed}


def _changed_snapshot(
    src: Path, dst: Path, rng: random.Random, share: float, deleted: float
) -> dict[str, int]:
    counts = {"roles_retagged": 0, "interfaces_changed": 0, "interfaces_deleted": 0, "groups_changed": 0}
    for p in sorted(src.rglob("*.json")):
        to = dst / p.relative_to(src)
        to.parent.mkdir(parents=True, exist_ok=True)
        if p.name == "iam-GetAccountAuthorizationDetails.json":
            doc = json.loads(p.read_text())
            for role in doc.get("RoleDetailList", []):
                if rng.random() < share:
                    role.setdefault("Tags", []).append({"Key": "reviewed", "Value": "next-day"})
                    counts["roles_retagged"] += 1
            to.write_text(json.dumps(doc))
        elif p.name == "ec2-DescribeNetworkInterfaces.json":
            doc = json.loads(p.read_text())
            kept = []
            for eni in doc.get("NetworkInterfaces", []):
                r = rng.random()
                if r < deleted:
                    counts["interfaces_deleted"] += 1
                    continue
                if r < deleted + share:
                    eni["Description"] = "re-described the next day"
                    counts["interfaces_changed"] += 1
                kept.append(eni)
            doc["NetworkInterfaces"] = kept
            to.write_text(json.dumps(doc))
        elif p.name == "ec2-DescribeSecurityGroups.json":
            doc = json.loads(p.read_text())
            for g in doc.get("SecurityGroups", []):
                if rng.random() < share:
                    g.setdefault("IpPermissions", []).append(
                        {
                            "FromPort": 9443,
                            "ToPort": 9443,
                            "IpProtocol": "tcp",
                            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "next day"}],
                            "Ipv6Ranges": [],
                            "PrefixListIds": [],
                            "UserIdGroupPairs": [],
                        }
                    )
                    counts["groups_changed"] += 1
            to.write_text(json.dumps(doc))
        else:
            os.symlink(p.resolve(), to)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("synth", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(json.dumps(split(args.synth, args.out, args.seed), indent=2))


if __name__ == "__main__":
    main()
