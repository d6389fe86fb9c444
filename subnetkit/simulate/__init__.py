"""``subnetkit simulate``: a whole subnet in one process, to see who its incentives pay.

Modules, each with one job: :mod:`.behaviours` (what each simulated miner does), :mod:`.chain`
(a real chain service in this process, its subnet, registrations and stakes), :mod:`.agents`
(honest, lazy and random validators), :mod:`.runner` (epochs, and the figures per behaviour),
:mod:`.report` (the HTML page). docs/simulation.md is the guide.
"""
