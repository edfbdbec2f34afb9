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


def _pod(
    name: str, ip: str, *, host: bool = False, account: str = ACCOUNT, started: str = "", finished: str = ""
) -> SimpleNamespace:
    return SimpleNamespace(
        id=f"k8s://{account}/us-east-1/c/namespaces/fraud/pods/{name}",
        account=account,
        props={"pod_ips": [ip], "host_network": host, "started": started, "finished": finished},
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


def test_an_address_two_pods_of_the_account_claim_without_times_names_neither() -> None:
    pods = [_pod("a", "10.30.1.121"), _pod("b", "10.30.1.121")]
    fa = FlowAttribution.build({}, [NODE], [], None, pods)
    a, _ = fa.ends(
        {"interface-id": "eni-node", "account-id": ACCOUNT}, "10.30.1.121", "10.30.1.141", None, "f:1"
    )
    assert a == NODE.id and fa.counts["pod"] == 0 and fa.counts["pod_ambiguous"] == 1


def test_a_pod_of_another_account_at_the_same_address_does_not_hide_this_accounts_pod() -> None:
    """Two clusters' pod ranges may overlap; the capturing interface's account says whose pod it is."""
    pods = [_pod("a", "10.30.1.121"), _pod("b", "10.30.1.121", account="999999999999")]
    fa = FlowAttribution.build({}, [NODE], [], None, pods)
    a, _ = fa.ends(
        {"interface-id": "eni-node", "account-id": ACCOUNT}, "10.30.1.121", "10.30.1.141", None, "f:1"
    )
    assert a.endswith("/pods/a")


def test_the_address_history_decides_between_a_finished_job_pod_and_its_successor() -> None:
    """The VPC CNI hands a finished pod's address to the next pod: a job pod that ran 01:00-01:10 and the
    scoring pod that started at 02:00 both list 10.30.1.121 in the export (kubectl keeps completed pods)."""
    pods = [
        _pod("nightly-job", "10.30.1.121", started="2026-11-30T01:00:00Z", finished="2026-11-30T01:10:00Z"),
        _pod("scoring", "10.30.1.121", started="2026-11-30T02:00:00Z"),
    ]
    fa = FlowAttribution.build({}, [NODE], [], None, pods)
    rec = {"interface-id": "eni-node", "account-id": ACCOUNT}

    def at(when: str | None) -> str:
        return fa.ends(rec, "10.30.1.121", "10.30.1.141", when, "f:1")[0]

    assert at("2026-11-30T01:05:00Z").endswith("/pods/nightly-job")
    assert at("2026-11-30T03:00:00Z").endswith("/pods/scoring")
    # between the two and before either: something the export does not show held it; the node it stays
    assert at("2026-11-30T01:30:00Z") == NODE.id
    assert at("2026-11-30T00:30:00Z") == NODE.id
    assert fa.counts["pod_not_running"] == 2 and fa.counts["pod"] == 2
    assert at(None) == NODE.id and fa.counts["pod_ambiguous"] == 1


def test_a_pod_of_another_account_is_not_an_interface_of_this_one() -> None:
    fa = FlowAttribution.build({}, [NODE, OTHER], [], None, [_pod("p", "10.30.1.122")])
    a, _ = fa.ends(
        {"interface-id": "eni-x", "account-id": "111122223333"}, "10.30.1.122", "10.30.1.9", None, "f:1"
    )
    assert a == OTHER.id


def test_the_export_records_when_each_pod_held_its_address() -> None:
    """``status.startTime`` and, for a pod whose containers all ended, their last ``finishedAt``: the
    fields ``kubectl get pods -o json`` writes (Kubernetes API reference, PodStatus / ContainerStateTerminated);
    a time that does not parse is left out rather than guessed."""
    from connectors.kubernetes.exports import Export, transform
    from connectors.kubernetes.ids import Cluster

    def pod(name: str, status: dict[str, object]) -> tuple[dict[str, object], str]:
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "fraud"}}
        return {**obj, "spec": {"containers": [{"name": "c"}]}, "status": status}, f"pods.json#{name}"

    job = {
        "phase": "Succeeded",
        "podIP": "10.30.1.121",
        "startTime": "2026-11-30T01:00:00Z",
        "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 0, "finishedAt": "2026-11-30T01:09:00Z"}}},
            {
                "name": "b",
                "state": {"terminated": {"exitCode": 0, "finishedAt": "2026-11-30T01:10:00+00:00"}},
            },
        ],
    }
    running = {"phase": "Running", "podIP": "10.30.1.121", "startTime": "2026-11-30T02:00:00Z"}
    garbled = {"phase": "Running", "podIP": "10.30.1.122", "startTime": "yesterday"}
    export = Export(objects=[pod("job", job), pod("scoring", running), pod("odd", garbled)])
    cluster = Cluster(f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/c")
    rows = {
        r.id.rsplit("/", 1)[-1]: r.props
        for r in transform(export, cluster, seen="2026-12-01T00:00:00Z").batch.nodes
        if r.kind == "Pod"
    }
    assert (rows["job"]["started"], rows["job"]["finished"]) == (
        "2026-11-30T01:00:00Z",
        "2026-11-30T01:10:00Z",
    )
    assert rows["scoring"]["started"] == "2026-11-30T02:00:00Z" and "finished" not in rows["scoring"]
    assert "started" not in rows["odd"]
