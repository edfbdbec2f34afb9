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
