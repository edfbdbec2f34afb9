"""Flow ends at a pod's address: the VPC CNI gives pods secondary addresses of their node's interface, so
an end resolved to an interface of the pod's account at the pod's address is the pod; a host-network pod
(its node's address), an address two pods claim, or an interface of another account is not."""

from __future__ import annotations

from types import SimpleNamespace

from connectors.evidence.attribution import FlowAttribution

ACCOUNT = "615294837560"
NODE = SimpleNamespace(
    id=f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/eni-node",
    account=ACCOUNT,
    props={
        "eni_id": "eni-node",
        "vpc_id": "vpc-a",
        "private_ips": ["10.30.1.50", "10.30.1.121", "10.30.1.141"],
    },
)
OTHER = SimpleNamespace(
    id="arn:aws:ec2:us-east-1:111122223333:network-interface/eni-x",
    account="111122223333",
    props={"eni_id": "eni-x", "vpc_id": "vpc-x", "private_ips": ["10.30.1.122"]},
)


def _pod(name: str, ip: str, *, host: bool = False, account: str = ACCOUNT) -> SimpleNamespace:
    return SimpleNamespace(
        id=f"k8s://{account}/us-east-1/c/namespaces/fraud/pods/{name}",
        account=account,
        props={"pod_ips": [ip], "host_network": host},
    )


def test_an_end_at_a_pods_address_on_its_node_is_the_pod() -> None:
    pods = [
        _pod("scoring", "10.30.1.121"),
        _pod("alerts", "10.30.1.141"),
        _pod("agent", "10.30.1.50", host=True),
    ]
    fa = FlowAttribution.build({}, [NODE, OTHER], [], None, pods)
    rec = {"interface-id": "eni-node", "account-id": ACCOUNT}
    a, b = fa.ends(rec, "10.30.1.121", "10.30.1.141", None, "f:1")
    assert a.endswith("/pods/scoring") and b.endswith("/pods/alerts") and fa.counts["pod"] == 2
    a, b = fa.ends(rec, "10.30.1.50", "10.30.1.141", None, "f:2")
    assert a == NODE.id  # the host-network pod has the node's own address: the node it stays


def test_an_address_two_pods_claim_names_neither() -> None:
    pods = [_pod("a", "10.30.1.121"), _pod("b", "10.30.1.121", account="999999999999")]
    fa = FlowAttribution.build({}, [NODE], [], None, pods)
    a, _ = fa.ends(
        {"interface-id": "eni-node", "account-id": ACCOUNT}, "10.30.1.121", "10.30.1.141", None, "f:1"
    )
    assert a == NODE.id and fa.counts["pod"] == 0


def test_a_pod_of_another_account_is_not_an_interface_of_this_one() -> None:
    fa = FlowAttribution.build({}, [NODE, OTHER], [], None, [_pod("p", "10.30.1.122")])
    a, _ = fa.ends(
        {"interface-id": "eni-x", "account-id": "111122223333"}, "10.30.1.122", "10.30.1.9", None, "f:1"
    )
    assert a == OTHER.id
