"""The echo subnet: the smallest complete subnet, and the template to copy for a new one.

* ``echo.proto``: the wire (one unary and one streaming synapse);
* :mod:`subnets.echo.miner`: :class:`EchoMiner`, which answers with the text it was sent;
* :mod:`subnets.echo.validator`: :class:`EchoValidator`, which sends random text and scores an
  exact echo, with a bonus for speed.

``SUBNET`` below is how ``subnetkit miner run --subnet echo`` finds the two classes.
"""

from subnetkit.core.subnet_spec import SubnetSpec

SUBNET = SubnetSpec(
    name="echo",
    miner="subnetkit.subnets.echo.miner:EchoMiner",
    validator="subnetkit.subnets.echo.validator:EchoValidator",
    description="Miners echo random text back; validators score exactness and latency.",
)
