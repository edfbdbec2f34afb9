"""Azure semantics: RBAC and network security groups, as the Azure documentation defines them."""
