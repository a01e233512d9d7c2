"""Experiments: scenario pairs x smart configuration x replications, paired statistics, verdicts."""
