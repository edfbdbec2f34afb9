"""Azure connectors: a tenant from `az` CLI exports (and, later, the Azure SDK)."""
