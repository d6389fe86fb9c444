"""What a subnet's unit tests need, without sockets or keys of their own.

* :class:`MinerTestEnv`: call a miner's handlers through the real request pipeline (signed,
  verified caller, deadline, blacklist, limits) in-process;
* :func:`running_chain` / :class:`ChainHarness`: a real chain in the test's process, driven
  block by block; the ``chain`` pytest fixture (``pytest_plugins =
  ["subnetkit.testing.fixtures"]``) gives a fresh one per test;
* :func:`eventually`, :func:`wait_for_port`, :func:`wait_for_ready_file`: bounded waits.

```python
from subnetkit.testing import MinerTestEnv

async def test_echo_answers_the_caller() -> None:
    async with MinerTestEnv(EchoMiner()) as env:
        reply = await env.call("Echo", echo_pb2.EchoRequest(text="hi"), caller="alice")
    assert reply.text == "hi"
```
"""

from subnetkit.testing.chain import TAO, ChainHarness, running_chain
from subnetkit.testing.miner_env import MinerTestEnv
from subnetkit.testing.waiting import eventually, wait_for_port, wait_for_ready_file

__all__ = [
    "TAO",
    "ChainHarness",
    "MinerTestEnv",
    "eventually",
    "running_chain",
    "wait_for_port",
    "wait_for_ready_file",
]
