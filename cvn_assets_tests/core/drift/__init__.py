"""Tests of cvn_assets.core.drift."""
