"""Blast radius of proposed changes: re-decide touched facts, propagate, map to services, score, tier."""
