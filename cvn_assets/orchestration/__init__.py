"""How a sweep runs: what it plans, the runs it creates, their retries, progress and report."""
