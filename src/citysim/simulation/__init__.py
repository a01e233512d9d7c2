"""The engine of one replication: the model (event wiring), per-incident ledger, logs, monitors, KPIs and
replications."""
