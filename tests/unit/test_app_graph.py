"""The blast-radius graph stays drawable: thousands of impacted CIs fold into a cluster node."""

from analyzer.app.graph import MAX_DRAWN, graph_elements


def _result(n_severed: int, n_impacted: int) -> dict:
    return {
        "change": {"target": "arn:aws:iam::1:role/t"},
        "severed": [
            {
                "consumer": f"arn:aws:iam::2:role/c{i}",
                "provider": "arn:aws:iam::1:role/t",
                "documented": False,
                "observed": True,
            }
            for i in range(n_severed)
        ],
        "impacted_services": [
            {"id": f"urn:ci:{i}", "name": f"CI {i}", "criticality": "high", "path": []}
            for i in range(n_impacted)
        ],
    }


def test_five_thousand_impacted_draw_as_a_bounded_graph() -> None:
    elements = graph_elements(_result(200, 5000))
    assert len(elements) < 2 * (MAX_DRAWN * 2 + 3)
    labels = {e["data"].get("label") for e in elements}
    assert f"+{5000 - MAX_DRAWN} more impacted" in labels and f"+{200 - MAX_DRAWN} more severed" in labels
    small = graph_elements(_result(2, 3))
    assert not any("cluster" in e.get("classes", "") for e in small)


def test_edges_say_how_each_service_is_reached() -> None:
    """A CI reached through resources links to the consumer cut off, labelled with the hops' relations; a
    CI reached from another impacted CI links to it, labelled with the CMDB's relation or observed use."""
    etl = "arn:aws:iam::2:role/legacy-etl-role"
    data_chain = [
        {"from": "legacy-etl-role", "to": "data of out", "relation": "writes", "events": 3},
        {"from": "data of out", "to": "pipeline", "relation": "reads", "events": 4},
        {"from": "pipeline", "to": "Pipeline", "relation": "member", "events": 0},
    ]
    r = {
        "change": {"target": "arn:aws:iam::1:role/datalake-reader"},
        "severed": [
            {
                "consumer": etl,
                "provider": "arn:aws:iam::1:role/datalake-reader",
                "documented": False,
                "observed": True,
            }
        ],
        "impacted_services": [
            {
                "id": "ci:fd",
                "name": "Fraud Detection",
                "criticality": "critical",
                "path": ["legacy-etl-role", "data of out", "pipeline", "Pipeline", "Fraud Detection"],
                "chain": [
                    *data_chain,
                    {"from": "Pipeline", "to": "Fraud Detection", "relation": "documented", "events": 0},
                ],
            },
            {
                "id": "ci:p",
                "name": "Pipeline",
                "criticality": "high",
                "path": ["legacy-etl-role", "data of out", "pipeline", "Pipeline"],
                "chain": data_chain,
            },
        ],
    }
    labels = {
        (e["data"]["source"], e["data"]["target"]): e["data"]["label"]
        for e in graph_elements(r)
        if "source" in e["data"] and e["data"]["label"] != "severed"
    }
    assert labels == {("ci:fd", "ci:p"): "depends on (CMDB)", ("ci:p", etl): "via writes, reads"}
