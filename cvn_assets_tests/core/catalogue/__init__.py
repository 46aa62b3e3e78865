"""Tests of cvn_assets.core.catalogue."""
