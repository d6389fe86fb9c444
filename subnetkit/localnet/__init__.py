"""The local network: a dev chain, miners and validators as processes on one machine.

``subnetkit localnet up`` is :func:`Localnet.run` with a display around it. The parts, each
with one job: :mod:`.naming` (who runs), :mod:`.provision` (subnet, wallets, registration and
stake on the chain), :mod:`.supervisor` (child processes: start, watch, stop without leftovers),
:mod:`.report` (per-epoch rows, the table, the summary), :mod:`.runner` (the order of it all).
Nothing here imports the chain, miner or validator packages at module level.
"""

from subnetkit.localnet.naming import NeuronPlan, plan_neurons, subnet_variants
from subnetkit.localnet.provision import Network, NeuronKeys, provision
from subnetkit.localnet.report import EpochTracker, NeuronRow
from subnetkit.localnet.runner import Events, Localnet, LocalnetConfig, install_stop_signals
from subnetkit.localnet.supervisor import ChildDied, LocalnetError, Supervisor

__all__ = [
    "ChildDied",
    "EpochTracker",
    "Events",
    "Localnet",
    "LocalnetConfig",
    "LocalnetError",
    "Network",
    "NeuronKeys",
    "NeuronPlan",
    "NeuronRow",
    "Supervisor",
    "install_stop_signals",
    "plan_neurons",
    "provision",
    "subnet_variants",
]
