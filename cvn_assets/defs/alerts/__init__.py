"""Sensors that raise and deliver alerts."""
