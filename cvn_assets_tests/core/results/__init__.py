"""Tests of cvn_assets.core.results."""
