"""Tests of cvn_assets.orchestration."""
