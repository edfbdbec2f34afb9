"""Blastwall: what a remediation will break, who depends on it, and who must authorize it."""

__version__ = "0.1.0"
