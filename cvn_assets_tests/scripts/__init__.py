"""Tests of the scripts make lint runs."""
