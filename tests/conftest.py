"""Shared pytest configuration: the fixtures subnet authors get too (``chain``, a fresh
in-process chain per test; the dev keys ``alice``, ``bob``, ``charlie``, ``eve``) come from
:mod:`subnetkit.testing.fixtures`, so the project's tests use the one chain fixture it ships.
Process helpers (a chain as a child process) live in tests/helpers/."""

pytest_plugins = ["subnetkit.testing.fixtures"]
