"""Kubernetes semantics over the graph: RBAC (who may do what in a cluster)."""
