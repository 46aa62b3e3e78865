"""Tests of cvn_assets.core.training."""
