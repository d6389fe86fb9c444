"""Test helpers for subnet authors: call a handler, start a chain, wait for a condition."""
