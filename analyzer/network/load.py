"""The network model of a store: built from the raw EC2 responses the snapshot loader keeps (document
collection ``network``), once per store generation."""

from __future__ import annotations

from typing import Any

from analyzer.network.model import NetModel, from_api

NETWORK = "network"


def model_from_documents(docs: dict[str, dict[str, Any]]) -> NetModel:
    """``docs``: ``{"<account>/<region>": {"ec2-DescribeX": response, ...}}``."""
    return from_api((key.split("/", 1)[0], data) for key, data in sorted(docs.items()))
