"""JSON Schemas shipped with the package."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def score_result_schema() -> dict[str, Any]:
    """The JSON Schema of ``blastwall score --format json`` (and of ``blastwall demo --format json``)."""
    return json.loads(resources.files("analyzer.schemas").joinpath("score-result.v1.json").read_text())


def proposals_schema() -> dict[str, Any]:
    """The JSON Schema of Blastwall's own proposals file (``blastwall propose FILE.yaml``)."""
    return json.loads(resources.files("analyzer.schemas").joinpath("proposals.v1.json").read_text())
