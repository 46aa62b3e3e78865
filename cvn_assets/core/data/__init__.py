"""OHLCV data: the embedded default set, readers for user files, resampling and validation."""
