"""Miners: subclass :class:`Miner` with a subnet's service and serve it with :class:`MinerServer`.

```python
from subnetkit.miner import Miner, MinerServer
from subnetkit.subnets.echo import echo_pb2

class EchoMiner(Miner):
    service = (echo_pb2, "Echo")

    async def Echo(self, request, context):
        return echo_pb2.EchoResponse(text=request.text)

async with MinerServer(EchoMiner(), signer, port=0) as server:
    print(server.port)
```
"""

from subnetkit.miner.base import CallContext, Miner
from subnetkit.miner.limits import Limits, SynapseCaps
from subnetkit.miner.server import MinerServer

__all__ = ["CallContext", "Limits", "Miner", "MinerServer", "SynapseCaps"]
