"""Benchmark of a sweep: through Dagster, as a plain Python loop over the same core functions, an
incremental re-run after a parameter change, and the gate over many variants.

`plain_loop` and everything it imports stay free of Dagster; `dagster_part` holds the Dagster side.
"""
