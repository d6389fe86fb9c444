"""``subnetkit epoch replay``: run Yuma epochs over a scenario in the epoch test-vector format.

Reads the scenario from stdin (or ``--input``) and writes ``{"epochs": [...]}`` with one entry
of outputs per input epoch. ``--exact`` runs the fixed-point epoch the chain runs (subtensor's
numbers bit for bit); the default is the float64 model. Useful to check the epoch against other
implementations and to explore hyperparameters without a chain.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

epoch_app = typer.Typer(help="Yuma consensus epochs.", no_args_is_help=True)


@epoch_app.command("replay")
def replay_cmd(
    stateful: bool = typer.Option(
        False,
        "--stateful",
        help="Carry bonds and permits across epochs (as the chain does) instead of using "
        "each epoch's given bonds and validator_permit.",
    ),
    exact: bool = typer.Option(
        False,
        "--exact",
        help="Run the chain's fixed-point (I32F32) epoch, which reproduces subtensor's numbers "
        "bit for bit, instead of the float64 model.",
    ),
    input_path: Path | None = typer.Option(  # noqa: B008
        None, "--input", "-i", help="Scenario JSON file (default: stdin)."
    ),
    device: str = typer.Option("cpu", "--device", help="torch device: cpu or cuda."),
) -> None:
    """Replay a scenario: scenario.json on stdin, outputs JSON on stdout."""
    import json

    from subnetkit.core.errors import ConfigError

    try:
        text = input_path.read_text() if input_path is not None else sys.stdin.read()
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {input_path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"scenario is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None

    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} asked for but CUDA is not available here")
    from subnetkit.chain.epoch.scenario import outputs_to_json, parse_scenario, replay

    try:
        outputs = replay(parse_scenario(doc), stateful=stateful, exact=exact, device=device)
    except (MemoryError, RuntimeError) as exc:
        # torch's CPU allocator raises RuntimeError ("can't allocate memory"), CUDA's a
        # RuntimeError subclass (OutOfMemoryError): a scenario too big for this machine.
        if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
            raise
        raise ConfigError(
            f"scenario.n={doc['n']} needs more memory than {device} has free "
            "(each epoch holds several n×n matrices)"
        ) from None
    # allow_nan=False: strict JSON out; a non-finite number here is a bug, not a NaN token.
    json.dump({"epochs": [outputs_to_json(out) for out in outputs]}, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


def register(app: typer.Typer) -> None:
    app.add_typer(epoch_app, name="epoch")
