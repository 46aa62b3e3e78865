"""Where every value came from: fingerprints, provenance, the audit of a verdict, MLflow tracking."""
