"""The results table (finetune_results) in SQLite or PostgreSQL."""
