"""Evaluation: metrics, the test answers kept for staff, behavioural checks and explanations."""
