"""Pure core: data, labels, folds, learners, metrics and statistics. Never imports Dagster."""
