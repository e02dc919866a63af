"""docs/craft.md stays true: its example runs and prints what it shows, its JSON is real."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from musekit.craft import FORMS, check

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "craft.md").read_text("utf-8")
POEMS = ROOT / "tests" / "fixtures" / "poems"


def block(kind: str, name: str) -> str:
    found = re.search(rf"<!-- {kind}: {re.escape(name)} -->\s*```\w*\n(.*?)\n```", DOC, re.DOTALL)
    assert found, f"docs/craft.md has no block marked <!-- {kind}: {name} -->"
    return found[1] + "\n"


def test_the_example_prints_what_the_doc_shows(tmp_path: Path) -> None:
    script = tmp_path / "craft_example.py"
    script.write_text(block("file", "craft_example.py"), "utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == block("output", "craft_example.py")


def test_the_documented_json_is_what_check_returns() -> None:
    shown = re.search(r"## The JSON report.*?```json\n(.*?)\n```", DOC, re.DOTALL)
    assert shown
    report = check((POEMS / "lear-old-man-with-a-beard.txt").read_text("utf-8"), "limerick")
    assert json.loads(shown[1]) == report.to_json()


def test_every_form_is_documented() -> None:
    table = DOC[DOC.index("## Forms") : DOC.index("## How forgiving")]
    assert [name for name in FORMS if f"| `{name}`" not in table] == []
