"""The network model of a store: built from the raw EC2 responses the snapshot loader keeps (document
collection ``network``), once per store generation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyzer.network.model import NetModel, from_api

NETWORK = "network"


def model_from_documents(docs: Mapping[str, dict[str, Any]]) -> NetModel:
    """``docs``: ``{"<account>/<region>": {"ec2-DescribeX": response, ...}}``."""
    # one document at a time: ``docs`` may decode each on access (NetworkDocuments)
    return from_api((key.split("/", 1)[0], docs[key]) for key in sorted(docs))
