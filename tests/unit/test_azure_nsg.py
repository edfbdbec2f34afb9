"""Azure network security group decisions, each case from the Azure documentation
(learn.microsoft.com/azure/virtual-network/): "Azure network security groups overview" (priority order,
first match, default rules), "How network security groups filter network traffic" (the VM1-VM4 picture:
subnet then interface inbound, interface then subnet outbound, intra-subnet traffic) and "Application
security groups" (the AsgWeb / AsgLogic / AsgDb example)."""

from __future__ import annotations

from analyzer.azure.nsg import End, Nsg, Rule, decide

VNET = ("10.0.0.0/16",)
INTERNET = "20.50.1.9"  # a public address outside the virtual network


def rule(name: str, priority: int, direction: str, access: str, protocol: str = "Tcp", **kw: object) -> Rule:
    return Rule(
        name,
        priority,
        direction,
        access,
        protocol,
        tuple(kw.get("src", ("*",))),  # type: ignore[arg-type]
        tuple(kw.get("src_asgs", ())),  # type: ignore[arg-type]
        ("*",),
        tuple(kw.get("dst", ("*",))),  # type: ignore[arg-type]
        tuple(kw.get("dst_asgs", ())),  # type: ignore[arg-type]
        tuple(kw.get("ports", ("*",))),  # type: ignore[arg-type]
    )


ALLOW_80_IN = rule("Allow-80", 100, "Inbound", "Allow", src=("Internet",), ports=("80",))
NSG1 = Nsg("nsg1", (ALLOW_80_IN,))  # on Subnet1
NSG2 = Nsg("nsg2", (ALLOW_80_IN,))  # on VM1's and VM3's interfaces


def vm(ip: str, subnet: Nsg | None, nic: Nsg | None) -> End:
    return End(ip, nic_nsg=nic, subnet_nsg=subnet, vnet=VNET)


VM1 = vm("10.0.1.4", NSG1, NSG2)
VM2 = vm("10.0.1.5", NSG1, None)
VM3 = vm("10.0.2.4", None, NSG2)
VM4 = vm("10.0.3.4", None, None)


def _state(src: End, dst: End, port: int = 80, protocol: str = "Tcp") -> str:
    return decide(src, dst, port, protocol).state


def test_inbound_meets_the_subnet_group_then_the_interface_group() -> None:
    """how-it-works, inbound: port 80 from the internet reaches VM1 only if NSG1 and NSG2 both allow it;
    VM2 gets what NSG1 allows; VM3 what NSG2 allows; VM4, with no group, everything."""
    net = End(INTERNET)
    assert [_state(net, v) for v in (VM1, VM2, VM3, VM4)] == ["allowed"] * 4
    only_subnet = vm("10.0.1.4", NSG1, Nsg("nsg2-empty", ()))
    got = decide(net, only_subnet, 80, "Tcp")
    assert got.state == "denied" and "DenyAllInBound" in got.reason
    assert [_state(net, v, 22) for v in (VM1, VM2, VM3, VM4)] == ["denied", "denied", "denied", "allowed"]


def test_outbound_meets_the_interface_group_then_the_subnet_group() -> None:
    """how-it-works, outbound: AllowInternetOutBound lets VM1 out unless a group denies port 80; a deny in
    NSG2 (the interface's) is enough, NSG1 never evaluated."""
    deny_80_out = Nsg(
        "nsg2-deny", (rule("Deny-80-out", 100, "Outbound", "Deny", dst=("Internet",), ports=("80",)),)
    )
    net = End(INTERNET)
    assert _state(VM1, net) == "allowed"
    got = decide(vm("10.0.1.4", NSG1, deny_80_out), net, 80, "Tcp")
    assert got.state == "denied" and got.reason.startswith("nsg2-deny")
    # both deny: the interface's group is met first, so it is the one that refuses
    subnet_deny = Nsg("nsg1-deny", deny_80_out.rules)
    got = decide(vm("10.0.1.4", subnet_deny, deny_80_out), net, 80, "Tcp")
    assert got.reason.startswith("nsg2-deny")
    got = decide(End(INTERNET), vm("10.0.1.4", subnet_deny, Nsg("nsg2-none", ())), 22, "Tcp")
    assert got.reason.startswith("nsg1-deny")  # inbound: the subnet's group first
    assert _state(VM4, net) == "allowed"


def test_first_match_by_priority_stops_processing() -> None:
    """overview, priority: lower numbers first; once a rule matches, later rules are not processed."""
    deny_then_allow = Nsg(
        "n",
        (
            rule("allow-low-priority", 300, "Inbound", "Allow", ports=("443",)),
            rule("deny-first", 200, "Inbound", "Deny", ports=("443",)),
        ),
    )
    assert _state(VM4, vm("10.0.1.9", deny_then_allow, None), 443) == "denied"
    allow_then_deny = Nsg(
        "n",
        (
            rule("allow-first", 200, "Inbound", "Allow", ports=("443",)),
            rule("deny-later", 300, "Inbound", "Deny", ports=("443",)),
        ),
    )
    assert _state(VM4, vm("10.0.1.9", allow_then_deny, None), 443) == "allowed"


def test_default_rules_allow_the_virtual_network_and_deny_the_rest() -> None:
    """overview, default rules: AllowVnetInBound lets any port in from the virtual network (intra-subnet
    too); DenyAllInbound refuses the internet; a custom deny overrides the default allow."""
    empty = Nsg("empty", ())
    target = vm("10.0.1.9", empty, None)
    assert _state(VM2, target, 5432) == "allowed"
    assert _state(End(INTERNET), target, 5432) == "denied"
    peered = End(
        "10.8.0.4"
    )  # a peered network's address, known to the VirtualNetwork tag through the peering
    assert _state(peered, End("10.0.1.9", subnet_nsg=empty, vnet=(*VNET, "10.8.0.0/16")), 5432) == "allowed"
    intra_deny = Nsg("n", (rule("deny-all-in", 100, "Inbound", "Deny", protocol="*"),))
    assert _state(VM2, vm("10.0.1.9", intra_deny, None), 5432) == "denied"  # intra-subnet traffic is filtered
    # load balancer probes are allowed in by AllowAzureLoadBalancerInBound
    assert _state(End("168.63.129.16"), target, 8080) == "allowed"


def test_application_security_groups() -> None:
    """application-security-groups: NSG1 on both subnets; Internet -> AsgWeb on 80; AsgLogic -> AsgDb on
    1433 (priority 110) before Deny-Database-All (120)."""
    nsg1 = Nsg(
        "nsg1",
        (
            rule(
                "Allow-HTTP-Inbound-Internet",
                100,
                "Inbound",
                "Allow",
                src=("Internet",),
                dst_asgs=("AsgWeb",),
                ports=("80",),
            ),
            rule(
                "Deny-Database-All",
                120,
                "Inbound",
                "Deny",
                protocol="*",
                dst_asgs=("AsgDb",),
                ports=("1433",),
            ),
            rule(
                "Allow-Database-BusinessLogic",
                110,
                "Inbound",
                "Allow",
                src_asgs=("AsgLogic",),
                dst_asgs=("AsgDb",),
                ports=("1433",),
            ),
        ),
    )

    def nic(ip: str, asg: str | None) -> End:
        return End(ip, subnet_nsg=nsg1, asgs=frozenset({asg}) if asg else None, vnet=VNET)

    nic1, nic3, nic4 = nic("10.0.1.4", "AsgWeb"), nic("10.0.1.6", "AsgLogic"), nic("10.0.2.4", "AsgDb")
    net = End(INTERNET)
    assert _state(net, nic1, 80) == "allowed"
    assert _state(net, nic3, 80) == "denied"  # not a member of AsgWeb: the rule does not apply to it
    assert _state(nic3, nic4, 1433) == "allowed"
    assert _state(nic1, nic4, 1433) == "denied"
    # an interface whose memberships were not collected: whether the allow applies is unknown
    assert _state(End("10.0.1.7", subnet_nsg=nsg1, asgs=None, vnet=VNET), nic4, 1433) == "unknown"


def test_a_service_tag_with_unknown_prefixes_is_unknown_unless_both_ways_agree() -> None:
    """service-tags-overview: a tag stands for Microsoft-maintained prefixes; without the published list
    its match is unknown, which matters only when the rules after it decide differently."""
    storage = Nsg("n", (rule("deny-storage", 100, "Outbound", "Deny", dst=("Storage",), ports=("443",)),))
    src = vm("10.0.1.4", None, storage)
    assert _state(src, End("20.60.1.1"), 443) == "unknown"
    assert _state(src, End("20.60.1.1"), 80) == "allowed"  # the rule is for 443 only
    known = End("10.0.1.4", nic_nsg=storage, vnet=VNET, tags={"Storage": ("20.60.0.0/16",)})
    assert _state(known, End("20.60.1.1"), 443) == "denied"
    assert _state(known, End("20.61.1.1"), 443) == "allowed"
    both_deny = Nsg(
        "n",
        (
            rule("deny-storage", 100, "Outbound", "Deny", dst=("Storage",), ports=("443",)),
            rule("deny-443", 200, "Outbound", "Deny", ports=("443",)),
        ),
    )
    assert _state(vm("10.0.1.4", None, both_deny), End("20.60.1.1"), 443) == "denied"
