"""Start-up time of the ``musekit`` console script against ``python -c "import pydantic"``.

``musekit --help`` must stay within 2x of importing pydantic: it may not load
the engine, the model, or any chat library. Runs alternate between the two
commands so machine noise hits both alike; the medians are compared.
``musekit run --help`` (which loads the installed plugins) is timed for
information.

Run: ``python bench/cli_startup.py`` from the venv where musekit is installed
(target: ratio <= 2.0).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 2.0


def find_musekit() -> str:
    """The console script next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("musekit")
    if beside.is_file():
        return str(beside)
    found = shutil.which("musekit")
    if found is None:
        raise SystemExit("the musekit console script is not installed (pip install -e .)")
    return found


def wall_time(argv: list[str]) -> float:
    """Seconds for one run of ``argv``, which must succeed."""
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=os.environ | {"COLUMNS": "80"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    musekit = find_musekit()
    commands = {
        "python -c 'import pydantic'": [sys.executable, "-c", "import pydantic"],
        "musekit --help": [musekit, "--help"],
        "musekit run --help": [musekit, "run", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm the OS file cache
        wall_time(argv)
    for _ in range(args.repeats):
        for name, argv in commands.items():
            times[name].append(wall_time(argv))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:28} {median * 1000:7.1f} ms (median of {args.repeats})")
    ratio = medians["musekit --help"] / medians["python -c 'import pydantic'"]
    verdict = "ok" if ratio <= TARGET else "ABOVE TARGET"
    print(f"ratio musekit --help / import pydantic: {ratio:.2f} (target <= {TARGET}) {verdict}")


if __name__ == "__main__":
    main()
