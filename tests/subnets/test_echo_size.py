"""The echo subnet stays small: miner, validator, config and spec in about 60 lines of code.

It is the template people copy, so its size is a feature of the API: if naming a service,
reading a reply or scoring a round needs more code, this test says so.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUDGET = 64  # "about 60"


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not inside a docstring."""
    source = path.read_text()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(value.lineno, (value.end_lineno or value.lineno) + 1))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT):
            continue
        if token.type in (tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_echo_subnet_fits_in_about_60_lines() -> None:
    echo = REPO / "subnets" / "echo"
    files = ("miner.py", "validator.py", "__init__.py")  # __init__: its config and SUBNET
    sizes = {name: code_lines(echo / name) for name in files}
    assert sum(sizes.values()) <= BUDGET, sizes


def test_the_counter_skips_docstrings_comments_and_blank_lines(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Doc\n\nstring."""\n\n# comment\nx = 1  # trailing\n\n\ndef f():\n'
        '    """Doc."""\n    return (\n        x\n    )\n'
    )
    assert code_lines(sample) == 5  # x = 1, def f, return (, x, )
