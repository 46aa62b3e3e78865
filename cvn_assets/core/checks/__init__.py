"""Sanity rules behind the blocking asset checks."""
