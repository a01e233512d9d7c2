"""citysim: discrete-event simulation of a megacity's 110 police and traffic services.

Public API:
    load_scenario(path)            validated, fully resolved Scenario
    simulate(scenario, n, seed)    replications -> logs, KPIs, summary
    estimate_run(scenario, n)      expected incidents, simulated days and computing time of n replications
"""

from citysim.city.loading import load_scenario
from citysim.config import Scenario, dump_scenario
from citysim.config.limits import RunEstimate, estimate_run
from citysim.errors import InputError
from citysim.simulation.replications import Simulation, simulate

__all__ = ["InputError", "RunEstimate", "Scenario", "Simulation", "dump_scenario", "estimate_run", "load_scenario",
           "simulate"]
__version__ = "0.1.0"
