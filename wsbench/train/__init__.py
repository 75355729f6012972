"""Training: the one resumable loop (checkpoints, resume, progress) and the feature heads."""
