"""AWS: offline snapshots (DESIGN's layout) now; live boto3 collection writes the same layout."""
