"""``--backend ray``: miner swarms and load generators past one machine, on a Ray cluster.

Needs the ``ray`` extra (``pip install 'subnetkit[ray]'``); nothing here imports Ray until a
run asks for it. Modules, each with one job: :mod:`.session` (join a cluster, or start a local
one kept on 127.0.0.1), :mod:`.placement` (a placement group that spreads the actors over the
nodes), :mod:`.hosts` (the miner-host actor: many miners in one process), :mod:`.generators`
(the load-generator actor), :mod:`.swarm` (a load test's swarm and generators),
:mod:`.simulation` (a simulation's miners). docs/load-testing.md ("Past one machine: Ray") is
the guide.
"""
