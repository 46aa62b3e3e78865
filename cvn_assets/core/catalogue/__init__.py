"""The factor catalogue: factors, variants, guardrails, pipeline parameters and training configurations."""
