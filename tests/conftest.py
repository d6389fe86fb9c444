"""Shared pytest configuration. Fixtures that start servers live in tests/helpers/."""
