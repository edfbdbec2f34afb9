"""Kubernetes: objects from ``kubectl get -o json`` exports (and the EKS cluster they run in), as graph rows.

``ids`` names every object; ``exports`` reads export files (get), turns them into rows (transform, pure)
and loads them (one call to the store's loader).
"""
