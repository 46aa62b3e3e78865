"""Tests of cvn_assets.core.labels."""
