"""Evidence: what was used (CloudTrail, VPC flow logs), and which account/region/time it covers."""
