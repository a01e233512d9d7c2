"""citysim: discrete-event simulation of a megacity's 110 police and traffic services.

Public API:
    load_scenario(path)            validated, fully resolved Scenario
    simulate(scenario, n, seed)    replications -> logs, KPIs, summary
"""

from citysim.city.loading import load_scenario
from citysim.config import Scenario, dump_scenario
from citysim.errors import InputError
from citysim.simulation.replications import Simulation, simulate

__all__ = ["InputError", "Scenario", "Simulation", "dump_scenario", "load_scenario", "simulate"]
__version__ = "0.1.0"
