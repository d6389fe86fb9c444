"""The state transition function: call handlers, per-block hooks and block execution.

Everything here is synchronous and deterministic given (state, block number, timestamp, the
ordered extrinsics): the block producer and the replay check run the very same code.
"""
