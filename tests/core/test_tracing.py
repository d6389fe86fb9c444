"""OpenTelemetry (the optional ``otel`` extra): a validator-side query and the miner's handling
of it are one trace, and JSON log lines written inside it carry its ids. Real miner server, real
signed client over loopback gRPC; spans collected by the SDK's in-memory exporter."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

pytest.importorskip("opentelemetry.instrumentation.grpc", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from subnetkit.core import tracing
from subnetkit.core.keys import Signer
from subnetkit.core.log import JsonFormatter
from subnetkit.miner import MinerServer
from subnetkit.miner.base import CallContext
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.validator.client import MinerClient, Target

ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]


class LoggingEchoMiner(EchoMiner):
    """Echo, logging one line from inside the handler (as a subnet's miner would)."""

    async def Echo(self, request: Any, ctx: CallContext) -> Any:  # type: ignore[override]
        logging.getLogger("subnetkit.test.miner").info("answering %s", ctx.synapse)
        return await super().Echo(request, ctx)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_query_and_handling_are_one_trace_and_logs_carry_its_ids() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.setup("test", provider=provider)
    capture = Capture()
    logger = logging.getLogger("subnetkit.test.miner")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    try:
        miner_key, validator_key = Signer.generate(), Signer.generate()
        async with (
            MinerServer(LoggingEchoMiner(), miner_key) as server,
            MinerClient(validator_key) as client,
        ):
            with tracing.span("validator.round", block=7):
                [result] = await client.query(
                    [Target(server.hotkey, "127.0.0.1", server.port)],
                    ECHO,
                    echo_pb2.EchoRequest(text="traced"),
                    timeout=5,
                )
        assert result.error is None, result.error
    finally:
        tracing.shutdown()
        logger.removeHandler(capture)

    spans = exporter.get_finished_spans()
    by_kind = {s.kind.name: s for s in spans}
    round_span = next(s for s in spans if s.name == "validator.round")
    client_span, server_span = by_kind["CLIENT"], by_kind["SERVER"]
    trace_id = round_span.context.trace_id
    assert client_span.context.trace_id == server_span.context.trace_id == trace_id
    assert client_span.parent.span_id == round_span.context.span_id
    assert server_span.parent.span_id == client_span.context.span_id
    assert "Echo" in server_span.name
    # the miner's log line inside the handler names the same trace
    [line] = [d for d in capture.lines if d["msg"] == "answering Echo"]
    assert line["trace_id"] == f"{trace_id:032x}"
    assert line["span_id"] == f"{server_span.context.span_id:016x}"


def test_without_setup_spans_are_no_ops_and_logs_have_no_ids() -> None:
    with tracing.span("nothing"):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", None, None)
        assert "trace_id" not in json.loads(JsonFormatter().format(record))
