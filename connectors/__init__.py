"""Connectors pull data in (get -> transform -> load). They never write to a cloud account."""
