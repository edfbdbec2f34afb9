"""Documentation: what the CMDB says (ServiceNow, Backstage, CSV)."""

from __future__ import annotations

from analyzer.criticality import CRITICALITY_ORDER, criticality_rank, normalize_criticality

__all__ = ["CRITICALITY_ORDER", "criticality_rank", "normalize_criticality"]
