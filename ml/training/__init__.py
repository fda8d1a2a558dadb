"""Training: the ``Trainer`` pipeline, its progress reports, checkpoints and what a run measures about itself."""
