"""Tests of cvn_assets.core.checks."""
