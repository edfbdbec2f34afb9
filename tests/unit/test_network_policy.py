"""NetworkPolicy decisions, each case from the Kubernetes documentation ("Network Policies",
kubernetes.io/docs/concepts/services-networking/network-policies/): default allow; isolation per
direction; the union of the rules that select a pod; a namespaceSelector and a podSelector in one `from`
element (both must match) against two elements (either may); ipBlock with except; port ranges
(endPort); what the model leaves to the plugin (an ipBlock against a pod address, a named port, a
host-network pod) is unknown."""

from __future__ import annotations

from analyzer.kubernetes.netpol import Pod, Policy, decide

NS = {"fraud": {"team": "fraud"}, "ops": {"team": "ops"}, "web": {}}
SCORING = Pod("k8s://x/pods/scoring", "fraud", {"app": "scoring", "role": "api"}, ("10.0.0.1",))
ALERTS = Pod("k8s://x/pods/alerts", "fraud", {"app": "alerts"}, ("10.0.0.2",))
OPS = Pod("k8s://x/pods/ops", "ops", {"app": "probe"}, ("10.0.1.1",))
WEB = Pod("k8s://x/pods/web", "web", {"app": "probe"}, ("10.0.2.1",))


def _to_alerts(policies: list[Policy], src: Pod | None = SCORING, port: int = 8080, src_ip: str = "") -> str:
    return decide(policies, NS, src, ALERTS, "10.0.0.2", port, "TCP", src_ip).state


def test_no_policy_allows_everything() -> None:
    assert _to_alerts([]) == "allowed"


def test_default_deny_ingress_isolates_ingress_only() -> None:
    deny = Policy("default-deny-ingress", "fraud", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert _to_alerts([deny]) == "denied"
    # the same pods may still send: egress is not isolated by it
    assert decide([deny], NS, ALERTS, OPS, "10.0.1.1", 443, "TCP").state == "allowed"


def test_default_deny_egress() -> None:
    deny = Policy("default-deny-egress", "fraud", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert decide([deny], NS, ALERTS, OPS, "10.0.1.1", 443, "TCP").state == "denied"


def test_policies_are_additive() -> None:
    deny = Policy("deny", "fraud", {"podSelector": {}, "policyTypes": ["Ingress"]})
    allow = Policy(
        "allow-scoring",
        "fraud",
        {
            "podSelector": {"matchLabels": {"app": "alerts"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "scoring"}}}]}],
        },
    )
    assert _to_alerts([deny, allow]) == "allowed"
    assert _to_alerts([deny, allow], src=OPS) == "denied"  # a podSelector selects in the policy's namespace


def test_namespace_and_pod_selector_in_one_element_both_must_match() -> None:
    both = {
        "namespaceSelector": {"matchLabels": {"team": "ops"}},
        "podSelector": {"matchLabels": {"app": "probe"}},
    }
    either = [
        {"namespaceSelector": {"matchLabels": {"team": "ops"}}},
        {"podSelector": {"matchLabels": {"app": "probe"}}},
    ]
    spec = {"podSelector": {"matchLabels": {"app": "alerts"}}, "policyTypes": ["Ingress"]}
    and_policy = Policy("and", "fraud", {**spec, "ingress": [{"from": [both]}]})
    or_policy = Policy("or", "fraud", {**spec, "ingress": [{"from": either}]})
    assert _to_alerts([and_policy], src=OPS) == "allowed"
    assert _to_alerts([and_policy], src=WEB) == "denied"  # a probe, but not in an ops namespace
    assert _to_alerts([or_policy], src=SCORING) == "denied"
    # the automatic kubernetes.io/metadata.name label selects a namespace by name
    by_name = Policy(
        "by-name",
        "fraud",
        {
            **spec,
            "ingress": [
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}}]}
            ],
        },
    )
    assert _to_alerts([by_name], src=WEB) == "allowed"


def test_ip_block_with_except_for_outside_addresses() -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "alerts"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}],
    }
    p = Policy("ipblock", "fraud", spec)
    assert _to_alerts([p], src=None, src_ip="172.17.2.9") == "allowed"
    assert _to_alerts([p], src=None, src_ip="172.17.1.9") == "denied"
    assert _to_alerts([p], src=SCORING) == "unknown"  # a pod's own address against an ipBlock


def test_ports_protocols_and_ranges() -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "alerts"}},
        "ingress": [
            {
                "ports": [
                    {"protocol": "TCP", "port": 32000, "endPort": 32768},
                    {"protocol": "UDP", "port": 8080},
                ]
            }
        ],
    }
    p = Policy("ports", "fraud", spec)
    assert _to_alerts([p], port=32500) == "allowed"
    assert _to_alerts([p], port=8080) == "denied"  # 8080 is open for UDP only
    named = Policy("named", "fraud", {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]})
    assert _to_alerts([named]) == "unknown"


def test_a_host_network_pod_is_the_plugins_choice() -> None:
    host = Pod("k8s://x/pods/agent", "fraud", {"app": "agent"}, ("10.0.0.9",), host_network=True)
    deny = Policy("deny", "fraud", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert decide([deny], NS, host, OPS, "10.0.1.1", 443, "TCP").state == "unknown"
