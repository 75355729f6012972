"""Reporting: mean ± SE tables of run records, and figures from run artefacts."""
