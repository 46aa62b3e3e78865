"""Tests of cvn_assets.core.alerts."""
