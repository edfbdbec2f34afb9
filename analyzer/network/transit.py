"""Which VPCs a transit gateway routes each VPC to, read from the EC2 responses a snapshot keeps.

A VPC attachment is associated with one transit gateway route table; traffic from the VPC is routed by
that table alone. The association is read from both sides: the attachment's ``Association`` and the
table's ``GetTransitGatewayRouteTableAssociations``; where they disagree (AWS allows one association;
moto's server also reports the default table), every table named routes it — more reach, so more
addresses left ambiguous, never fewer. The table reaches an attachment when a route names it (``SearchTransitGatewayRoutes``,
static or propagated, state ``active``; a ``blackhole`` route reaches nothing) or when the attachment
propagates into it (``GetTransitGatewayRouteTablePropagations``, state ``enabled``: its VPC's CIDRs are
then routes of the table). Route tables belong to the gateway's owner account: when that account was not
collected, the attachments are known (each account describes its own) but not where they route —
those VPCs are ``unrouted``: possibly reachable, never assumed either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ATTACHMENTS = "ec2-DescribeTransitGatewayAttachments"
ROUTE_TABLES = "ec2-DescribeTransitGatewayRouteTables"
ROUTES = "ec2-SearchTransitGatewayRoutes"
PROPAGATIONS = "ec2-GetTransitGatewayRouteTablePropagations"
ASSOCIATIONS = "ec2-GetTransitGatewayRouteTableAssociations"
OPS = (ATTACHMENTS, ROUTE_TABLES, ROUTES, PROPAGATIONS, ASSOCIATIONS)


@dataclass(frozen=True)
class TransitRoutes:
    """Per (transit gateway, VPC attached to it): ``via[...]`` the VPCs the gateway routes that VPC's
    traffic to; ``maybe[...]`` the VPCs on that gateway when the route table was not collected (reach
    unknown). A pair in neither is attached but associated with no table: the gateway routes nothing."""

    via: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    maybe: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    attached: frozenset[tuple[str, str]] = frozenset()

    @property
    def routed(self) -> dict[str, frozenset[str]]:
        """VPC -> the VPCs any of its transit gateways routes it to."""
        return _by_vpc(self.via)

    @property
    def unrouted(self) -> dict[str, frozenset[str]]:
        """VPC -> the VPCs on a gateway of its whose route table was not collected."""
        return _by_vpc(self.maybe)


def _by_vpc(pairs: dict[tuple[str, str], frozenset[str]]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for (_, vpc), to in pairs.items():
        out[vpc] = out.get(vpc, frozenset()) | to
    return out


def transit_routes(documents: Iterable[dict[str, Any]]) -> TransitRoutes:
    """From the per-account/region EC2 responses (``{op: response}`` each), the VPC-to-VPC routes of every
    transit gateway.

    >>> att = lambda a, v, rt: {"TransitGatewayAttachmentId": a, "TransitGatewayId": "tgw-1",
    ...     "ResourceType": "vpc", "ResourceId": v, "State": "available",
    ...     "Association": {"TransitGatewayRouteTableId": rt, "State": "associated"}}
    >>> doc = {ATTACHMENTS: {"TransitGatewayAttachments": [att("a1", "vpc-1", "rt-1"),
    ...     att("a2", "vpc-2", "rt-2"), att("a3", "vpc-3", "rt-9")]},
    ...     PROPAGATIONS: {"rt-1": {"TransitGatewayRouteTablePropagations": [
    ...         {"TransitGatewayAttachmentId": "a2", "ResourceId": "vpc-2", "State": "enabled"}]},
    ...                    "rt-2": {"TransitGatewayRouteTablePropagations": []}},
    ...     ROUTES: {"rt-1": {"Routes": []}, "rt-2": {"Routes": [{"State": "active",
    ...         "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": "a1", "ResourceId": "vpc-1"}]}]}}}
    >>> t = transit_routes([doc])
    >>> sorted(t.routed["vpc-1"]), sorted(t.routed["vpc-2"]), sorted(t.unrouted["vpc-3"])
    (['vpc-2'], ['vpc-1'], ['vpc-1', 'vpc-2'])
    """
    attachments: dict[str, dict[str, Any]] = {}
    known: set[str] = set()  # route tables whose routes or propagations were read (null: refused)
    reaches: dict[str, set[str]] = {}  # route table -> attachment ids it routes to
    associated: dict[str, set[str]] = {}  # attachment id -> the route tables it is associated with
    for doc in documents:
        for a in (doc.get(ATTACHMENTS) or {}).get("TransitGatewayAttachments", []):
            if a.get("TransitGatewayAttachmentId"):
                attachments.setdefault(str(a["TransitGatewayAttachmentId"]), a)
                assoc = a.get("Association") or {}
                if assoc.get("State") == "associated" and assoc.get("TransitGatewayRouteTableId"):
                    associated.setdefault(str(a["TransitGatewayAttachmentId"]), set()).add(
                        str(assoc["TransitGatewayRouteTableId"])
                    )
        for table, resp in (doc.get(ASSOCIATIONS) or {}).items():
            for x in (resp or {}).get("Associations", []):
                if x.get("State") == "associated" and x.get("TransitGatewayAttachmentId"):
                    associated.setdefault(str(x["TransitGatewayAttachmentId"]), set()).add(table)
        for table, resp in (doc.get(ROUTES) or {}).items():
            to = reaches.setdefault(table, set())
            if resp is not None:
                known.add(table)
            for r in (resp or {}).get("Routes", []):
                if r.get("State") == "active":
                    to |= {
                        str(x["TransitGatewayAttachmentId"])
                        for x in r.get("TransitGatewayAttachments") or []
                        if x.get("TransitGatewayAttachmentId")
                    }
        for table, resp in (doc.get(PROPAGATIONS) or {}).items():
            to = reaches.setdefault(table, set())
            if resp is not None:
                known.add(table)
            for p in (resp or {}).get("TransitGatewayRouteTablePropagations", []):
                if p.get("State") == "enabled" and p.get("TransitGatewayAttachmentId"):
                    to.add(str(p["TransitGatewayAttachmentId"]))
    vpc_of = {
        a_id: str(a["ResourceId"])
        for a_id, a in attachments.items()
        if a.get("ResourceType") == "vpc" and a.get("State") == "available" and a.get("ResourceId")
    }
    on_gateway: dict[str, set[str]] = {}
    for a_id, vpc in vpc_of.items():
        on_gateway.setdefault(str(attachments[a_id].get("TransitGatewayId")), set()).add(vpc)
    via: dict[tuple[str, str], set[str]] = {}
    maybe: dict[tuple[str, str], set[str]] = {}
    for a_id, vpc in vpc_of.items():
        gateway = str(attachments[a_id].get("TransitGatewayId"))
        for table in associated.get(a_id, ()):  # none: the gateway routes nothing from this VPC
            if table in known:
                via.setdefault((gateway, vpc), set()).update(
                    vpc_of[x] for x in reaches.get(table, ()) if x in vpc_of
                )
            else:
                maybe.setdefault((gateway, vpc), set()).update(on_gateway[gateway])
    return TransitRoutes(
        {k: frozenset(to - {k[1]}) for k, to in via.items()},
        {k: frozenset(to - {k[1]}) for k, to in maybe.items()},
        frozenset((str(attachments[a].get("TransitGatewayId")), v) for a, v in vpc_of.items()),
    )
