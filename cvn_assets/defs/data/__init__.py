"""Per-crypto assets: candles, features, labels and fold windows."""
