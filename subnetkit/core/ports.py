"""Is a listening address free? Asked before gRPC is, because gRPC answers only "Failed to
add port" (and prints a C++ log line of its own); this says which port, why, and one to use.
"""

from __future__ import annotations

import errno
import socket

#: how many ports above a busy one are tried for a suggestion
SUGGEST_RANGE = 50


def _bind(host: str, port: int) -> OSError | None:
    """None if ``host:port`` can be listened on now (SO_REUSEADDR, as gRPC sets it)."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return OSError(errno.EADDRNOTAVAIL, exc.strerror)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc
    return None


def free_port_near(host: str, port: int) -> int | None:
    """The first port above ``port`` that is free on ``host`` now, if any close by."""
    for candidate in range(port + 1, min(port + SUGGEST_RANGE, 65535) + 1):
        if _bind(host, candidate) is None:
            return candidate
    return None


def bind_problem(host: str, port: int, flag: str = "--port") -> str | None:
    """Why ``host:port`` cannot be listened on, saying what to change; None if it can."""
    if port == 0:
        return None
    error = _bind(host, port)
    if error is None:
        return None
    if error.errno == errno.EADDRINUSE:
        near = free_port_near(host, port)
        suggestion = f"{flag} {near}" if near is not None else f"{flag} 0"
        return (
            f"port {port} on {host} is already in use (another miner?); use another, e.g. "
            f"{suggestion} (free now), or {flag} 0 for any free port"
        )
    if error.errno == errno.EACCES:
        return f"no permission to listen on port {port} (below 1024?); use a port above 1024"
    return f"cannot listen on {host}:{port} ({error.strerror}); check --host and {flag}"


__all__ = ["bind_problem", "free_port_near"]
