"""Analysis of models and runs: queueing formulas, verification reductions, load warnings, calibration,
chart tables."""
