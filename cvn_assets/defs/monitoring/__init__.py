"""Drift monitors of the baseline model on the newest bars."""
