"""The README's promises that a newcomer reads first: its pictures exist (taken by the Playwright
tests, `make screenshots`), and the commands it names exist in the Makefile and the CLI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from orders.cli import main

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_screenshots_in_the_readme_are_committed_pictures() -> None:
    shots = re.findall(r"!\[[^\]]*\]\((docs/screenshots/[^)]+\.png)\)", README)
    assert {"docs/screenshots/configurator.png", "docs/screenshots/planner-gantt.png"} <= set(shots)
    tracked = subprocess.run(
        ["git", "ls-files", "docs/screenshots"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in shots:
        assert rel in tracked, f"{rel} is not committed"
        with Image.open(REPO / rel) as img:
            assert img.width >= 800 and img.height >= 400, (rel, img.size)


def test_make_targets_and_cli_commands_named_in_the_readme_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in set(re.findall(r"`make (\w+)`", README)) | {"run", "test", "demo"}:
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is not a target"
    commands = set(main.commands)  # type: ignore[attr-defined]
    for cmd in set(re.findall(r"^hunar (\w+)", README, re.M)):
        assert cmd in commands, f"hunar {cmd} is not a command"
        assert CliRunner().invoke(main, [cmd, "--help"]).exit_code == 0
