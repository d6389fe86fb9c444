"""The echo subnet: the smallest complete subnet, and the template to copy for a new one.

* ``echo.proto``: the wire (one unary and one streaming synapse);
* :mod:`subnetkit.subnets.echo.miner`: :class:`EchoMiner`, which answers with the text it got;
* :mod:`subnetkit.subnets.echo.validator`: :class:`EchoValidator`, which sends random text and
  scores an exact echo, with a bonus for speed;
* :class:`EchoConfig`: the subnet's own settings section (``--set subnet.text_bytes=32``,
  ``SUBNETKIT_SUBNET__TEXT_BYTES``, ``[subnet]`` in TOML).

``SUBNET`` below is how ``subnetkit miner run --subnet echo`` finds the two classes.
"""

from pydantic import BaseModel, Field

from subnetkit.core.subnet_spec import SubnetSpec


class EchoConfig(BaseModel):
    """Echo's own settings."""

    text_bytes: int = Field(16, ge=1, le=4096, description="random bytes per task (hex-encoded)")


SUBNET = SubnetSpec(
    name="echo",
    miner="subnetkit.subnets.echo.miner:EchoMiner",
    validator="subnetkit.subnets.echo.validator:EchoValidator",
    description="Miners echo random text back; validators score exactness and latency.",
    config=EchoConfig,
)
