"""How chain commands print for people: amounts in TAO, short addresses, rich tables."""

from __future__ import annotations

from typing import Any

from subnetkit.cli.parsing import RAO_PER_TAO


def fmt_tao(rao: int | float) -> str:
    """``rao`` in TAO, with as many decimals as it needs (none for whole TAO)."""
    return f"{rao / RAO_PER_TAO:,.9f}".rstrip("0").rstrip(".")


def short_address(address: str) -> str:
    """The first 6 and last 4 characters of a long address, for narrow table columns."""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def rich_console() -> Any:
    """Rich output; when stdout is a pipe or file (no terminal width to fit), print wide rows
    rather than folding addresses across lines."""
    from rich.console import Console

    out = Console(soft_wrap=False)
    if not out.is_terminal:
        out = Console(soft_wrap=False, width=max(out.width, 160))
    return out


def new_table(title: str, columns: list[str]) -> Any:
    """A rich table whose cells fold rather than cut (addresses must stay whole)."""
    from rich.table import Table

    grid = Table(title=title, title_justify="left")
    for name in columns:
        grid.add_column(name, overflow="fold")
    return grid
