"""OpenTelemetry tracing, optional: ``pip install "subnetkit[otel]"`` and ``tracing.enabled``.

With it, a validator's query and the miner's handling of it are one trace: the validator's
round is a span, each query a client span under it (grpc.aio's client interceptor puts the
W3C ``traceparent`` in the request metadata, which the signed protocol leaves alone), and the
miner's server interceptor continues that trace for the handler. JSON log lines written inside
a span carry its ``trace_id`` and ``span_id`` (:mod:`subnetkit.core.log`), so a slow answer in
the validator's log leads to the miner's log lines for the same request.

Without the extra installed, or with tracing disabled, everything here is a no-op and nothing
from OpenTelemetry is imported. Spans go to an OTLP collector when
``opentelemetry-exporter-otlp`` is installed (configured by the standard ``OTEL_EXPORTER_OTLP_*``
variables); without an exporter, trace context is still propagated and logged.

Chain calls and health checks are not traced (the block stream alone would be a span per
block); the miner's synapses are.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: gRPC services never traced: the chain (block stream, metagraph) and health checks
UNTRACED_SERVICES = ("subnetkit.chain.v1.Chain", "grpc.health.v1.Health")

_tracer: Any = None
_instrumentors: list[Any] = []


def available() -> bool:
    """True when the ``otel`` extra (API, SDK and the grpc instrumentation) is installed."""
    try:
        import opentelemetry.instrumentation.grpc
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


def setup(service_name: str, *, provider: Any = None) -> Any:
    """Instrument grpc.aio clients and servers of this process and return the tracer provider.

    ``provider`` (an SDK ``TracerProvider``) is used as given (tests pass one with an in-memory
    exporter); otherwise one is built for ``service_name``, exporting over OTLP when its
    exporter package is installed. Idempotent until :func:`shutdown`.
    """
    global _tracer
    from opentelemetry import trace
    from opentelemetry.instrumentation.grpc import (
        GrpcAioInstrumentorClient,
        GrpcAioInstrumentorServer,
        filters,
    )

    if _instrumentors:
        return _tracer_provider()
    if provider is None:
        provider = _default_provider(service_name)
        trace.set_tracer_provider(provider)
    untraced = filters.negate(filters.any_of(*(filters.service_name(s) for s in UNTRACED_SERVICES)))
    client = GrpcAioInstrumentorClient(filter_=untraced)  # type: ignore[no-untyped-call]
    server = GrpcAioInstrumentorServer(filter_=untraced)  # type: ignore[no-untyped-call]
    client.instrument(tracer_provider=provider)
    server.instrument(tracer_provider=provider)
    _instrumentors.extend([client, server])
    _tracer = provider.get_tracer("subnetkit")
    _tracer._subnetkit_provider = provider
    return provider


def _tracer_provider() -> Any:
    return getattr(_tracer, "_subnetkit_provider", None)


def _default_provider(service_name: str) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )
    except ImportError:
        log.warning(
            "tracing on, but no span exporter is installed: trace ids are propagated and "
            "logged only; pip install opentelemetry-exporter-otlp to send spans to a collector"
        )
        return provider
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def shutdown() -> None:
    """Undo :func:`setup`: un-instrument grpc.aio and flush the provider's spans."""
    global _tracer
    provider = _tracer_provider()
    for instrumentor in _instrumentors:
        instrumentor.uninstrument()
    _instrumentors.clear()
    _tracer = None
    if provider is not None:
        with contextlib.suppress(Exception):
            provider.force_flush()


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    """A span named ``name`` around the block when tracing is set up; otherwise nothing."""
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name, attributes=attributes):
        yield


__all__ = ["UNTRACED_SERVICES", "available", "setup", "shutdown", "span"]
