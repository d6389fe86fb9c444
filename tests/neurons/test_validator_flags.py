"""``validator run`` has its own flags for sample size, query timeout and moving-average alpha.

Through the real entry point (``subnetkit.cli.main``): each flag reaches its setting (a value
out of range is refused in one line naming that setting), and ``miner run`` has no such flags.
What they change in a running validator is checked by the process test in test_process.py.
"""

from __future__ import annotations

import pytest

from subnetkit.cli import main


@pytest.mark.parametrize(
    ("flag", "value", "setting"),
    [
        ("--sample-size", "0", None),  # typer's own range check: a usage error
        ("--timeout", "0", "validator.timeout"),
        ("--moving-average-alpha", "1.5", "validator.moving_average_alpha"),
    ],
)
def test_each_validator_flag_reaches_its_setting(
    flag: str, value: str, setting: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["validator", "run", "--subnet", "echo", flag, value])
    err = capsys.readouterr().err
    assert rc == 2
    if setting is None:
        assert "Invalid value for '--sample-size'" in err
    else:
        assert err.startswith(f"error[config]: invalid setting {setting}:") and err.count("\n") == 1


@pytest.mark.parametrize("flag", ["--sample-size", "--timeout", "--moving-average-alpha"])
def test_the_miner_command_has_no_validator_flags(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["miner", "run", "--subnet", "echo", flag, "1"])
    assert rc == 2
    assert f"No such option: {flag}" in capsys.readouterr().err
