"""AWS policy language: parsing and evaluation (trust, identity, SCP)."""
