"""VPC network semantics: which flows the configuration allows (security groups, NACLs, routes)."""
