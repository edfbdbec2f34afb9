"""Governance: the human-owned tier policy (risk acceptances, approvals and the ledger build on it)."""
