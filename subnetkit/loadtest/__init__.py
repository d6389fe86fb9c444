"""``subnetkit loadtest``: signed load against miners, with latency measured the honest way.

Modules, each with one job: :mod:`.schedule` (load models and ramps), :mod:`.recorder` (HDR
histograms that merge), :mod:`.engine` (drives the load), :mod:`.targets` (the miners under test:
a swarm it starts, in-process or as processes, or existing endpoints), :mod:`.thresholds`
(k6-style pass/fail), :mod:`.summary` (the JSON figures), :mod:`.report` (the offline HTML page),
:mod:`.runner` (all of it from one set of options). docs/load-testing.md is the guide.
"""
