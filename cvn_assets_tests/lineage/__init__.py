"""Tests of cvn_assets.lineage."""
