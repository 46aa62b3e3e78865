"""Triple-barrier labels, the CUSUM event filter and label smoothing."""
