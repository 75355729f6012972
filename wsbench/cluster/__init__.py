"""Clusters: sweep files, shared stages, submission through submitit, and run status."""
