"""Training one model on one cell: folds, fit, calibration, cross-fitting, the threshold sweep, scoring."""
