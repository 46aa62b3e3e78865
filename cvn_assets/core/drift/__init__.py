"""Drift of a trained model on new bars: feature PSI, concept drift, output sharpness."""
