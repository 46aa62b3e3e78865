"""Alerts: the drop-rate and failure rules, their grouping, the queryable store and sink, the webhook."""
