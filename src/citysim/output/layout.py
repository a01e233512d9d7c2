"""The results-folder layout: every file name a results folder can hold, defined once.

`run` folders: the five logs, KPI tables, the resolved scenario. Experiment folders: the claims, run
and chart tables, the result store, the reports. Every folder ends with `manifest.json`, written last:
a folder with a manifest is complete.
"""

from __future__ import annotations

MANIFEST = "manifest.json"

# citysim run
LOG_FILES = {name: f"{name}.parquet" for name in ("incidents", "units", "duty", "traffic", "crashes", "tasks")}
KPIS = "kpis.csv"
SUMMARY = "summary.csv"
TRAFFIC_BY_HOUR = "traffic_by_hour.csv"
RESOLVED_SCENARIO = "scenario.resolved.yaml"
REPLICATION_PARTS = "replications"  # replications/<k>/<log>.parquet while a run is under way

# citysim compare
COMPARISON = "comparison.csv"
STEPS = "steps.csv"

# citysim experiment (claim check)
CLAIMS = "claims.csv"
RUNS = "runs.csv"
SERVICES = "services.csv"  # each situation's traffic-service metrics, baseline against smart
SERVICE_RUNS = "service_runs.csv"  # the same metrics for every run
FAILURES = "failures.csv"
INPUTS = "inputs.json"
HOURLY = "hourly.csv"
DISTRICTS = "districts.csv"
SAMPLES = "samples.csv"
DIAGNOSTICS = "diagnostics.csv"  # every run's step means and health figures (open at the end, P(wait))
WARNINGS = "warnings.csv"  # what the claim check found wrong besides the claims (also printed)
MAP = "map.csv"  # each situation's map layers (district land, roads, posts, replication 0's incidents)
REPLAY = "replay.csv"  # the first situation's replication 0 by the hour: open incidents and units (the replay)
STORE = "units"  # the result store: one file per finished run
RESOLVED_SCENARIOS = "scenarios"  # <situation>.baseline.yaml and <situation>.smart.yaml

# citysim experiment (attribution, sensitivity)
ATTRIBUTION = "attribution.csv"
SENSITIVITY = "sensitivity.csv"
WHAT_WOULD_IT_TAKE = "what_would_it_take.csv"

# citysim experiment (uncertainty)
PRIORS = "priors.csv"  # each input's distribution, quantiles and source
DESIGN = "design.csv"  # the design points: each input's value at each point
REDUCTIONS = "reductions.csv"  # each situation, point and metric: baseline and smart means, the reduction
CLAIM_PROBABILITIES = "claim_probabilities.csv"
VERDICTS = "verdicts.csv"
SENSITIVITY_INDICES = "sensitivity_indices.csv"
BREAK_EVENS = "break_evens.csv"

# charts and reports
FIGURES = "figures"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
