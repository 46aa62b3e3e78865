"""Dagster layer: wires the pure core into assets, resources, IO managers and jobs."""
