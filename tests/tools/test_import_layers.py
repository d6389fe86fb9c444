"""The layer contracts in pyproject.toml hold on the real tree and catch an import that breaks them.

Each broken case copies the packages and the contracts to a temporary folder, writes one wrong
import into the copy, and runs lint-imports the way ``make test`` does (inside the view that
``subnetkit.tools.import_view`` builds, with ``--config`` naming the copied pyproject.toml).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from subnetkit.tools import import_view

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(repo_root: Path, view: Path) -> subprocess.CompletedProcess[str]:
    import_view.build(repo_root, view)
    return subprocess.run(
        [
            str(LINT_IMPORTS),
            "--config",
            str(repo_root / "pyproject.toml"),
            "--no-cache",
            "--no-logo",
        ],
        cwd=view,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _copy_tree(dest: Path) -> Path:
    """The packages and pyproject.toml of the repository, copied to ``dest``."""
    dest.mkdir()
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in {path.name for path in import_view.package_dirs(REPO).values()}:
        shutil.copytree(REPO / folder, dest / folder, ignore=skip)
    return dest


def test_view_lays_folders_out_under_their_import_names(tmp_path: Path) -> None:
    view = import_view.build(REPO, tmp_path / "view")
    assert (view / "subnetkit" / "chain" / "__init__.py").resolve() == (
        REPO / "chain" / "__init__.py"
    ).resolve()
    assert (view / "subnetkit" / "core").resolve() == (REPO / "subnetkit" / "core").resolve()
    assert not (view / "chain").exists()
    # Rebuilding replaces the old view, so a package that moved away leaves nothing behind.
    (view / "subnetkit" / "stale.py").write_text("")
    import_view.build(REPO, view)
    assert not (view / "subnetkit" / "stale.py").exists()


def test_the_real_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint_imports(REPO, tmp_path / "view")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # The bottom importing upward: core must not know the chain exists.
        (
            "subnetkit/core/wrong_layer.py",
            "import subnetkit.chain.store\n",
            "subnetkit.core.wrong_layer -> subnetkit.chain.store",
        ),
        # Siblings that must stay independent.
        (
            "miner/wrong_sibling.py",
            "from subnetkit.validator import scores\n",
            "subnetkit.miner.wrong_sibling -> subnetkit.validator.scores",
        ),
        # The chain reaching a neuron through a lazy import is still caught.
        (
            "chain/wrong_neuron.py",
            "def f():\n    import subnetkit.miner.base\n",
            "subnetkit.chain.wrong_neuron -> subnetkit.miner.base",
        ),
        # The wire pulling in torch.
        ("subnetkit/wire/wrong_dep.py", "import torch\n", "subnetkit.wire.wrong_dep -> torch"),
        # A new package that the layers contract does not place (exhaustive).
        ("subnetkit/unplaced/__init__.py", "", "not listed as layers"),
    ],
)
def test_a_wrong_import_breaks_a_contract(
    tmp_path: Path, module: str, source: str, expected: str
) -> None:
    tree = _copy_tree(tmp_path / "tree")
    wrong = tree / module
    wrong.parent.mkdir(parents=True, exist_ok=True)
    wrong.write_text(source)
    result = _lint_imports(tree, tmp_path / "view")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert expected in output, output
