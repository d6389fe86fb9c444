"""The bottom layer every other part stands on: errors, keys and wallets, settings, logging,
the lifecycle of long-lived components, and what every neuron process shares.

Nothing here imports the wire, the chain, a neuron or the CLI (an import-linter contract in
``pyproject.toml`` checks it).
"""
