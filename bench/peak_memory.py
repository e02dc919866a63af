"""Peak memory of a real CLI run on the embedded model, against baselines from the same run.

Each command runs as a fresh child process; its peak resident set size (max RSS) is
read from ``os.wait4``'s resource usage. Measured, interleaved, ``--repeats`` times:

* ``python -c pass``: the interpreter alone;
* raw llama-cpp-python: import ``llama_cpp``, load the same GGUF with the same n_ctx,
  and generate the same request the CLI run sends (what any program embedding the
  model pays), without musekit;
* ``musekit run write --length long --seed 7 "a lighthouse keeper's last night"``.

Children run in an empty folder with no MUSEKIT_ variables or user settings.
Run: ``python bench/peak_memory.py`` (target: the CLI run under 400 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _shared import write_host

from musekit.engine.models import default_model_path
from musekit.invocation import Invocation
from musekit.runner import Runner
from musekit.testing.fake_engine import FakeEngine

TARGET_MB = 400
PARAMS = {"prompt": "a lighthouse keeper's last night", "length": "long", "seed": 7}
MUSEKIT = Path(sys.executable).with_name("musekit")

RAW = """
import json, sys
from llama_cpp import Llama
request = json.loads(sys.argv[1])
llama = Llama(model_path=sys.argv[2], n_ctx=2048, verbose=False)
s = request["sampling"]
for _ in llama.create_chat_completion(
    messages=request["messages"], stream=True, temperature=s["temperature"],
    top_p=s["top_p"], min_p=s["min_p"], top_k=s["top_k"] or 0,
    repeat_penalty=s["repetition_penalty"] or 1.0, max_tokens=s["max_tokens"], seed=s["seed"],
):
    pass
"""


def peak_mb(command: list[str], cwd: str, env: dict[str, str]) -> float:
    """Run ``command`` to the end; its peak RSS in MB (it must succeed)."""
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{command[0]} exited {child.returncode}")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return usage.ru_maxrss * scale / 1e6


def write_request_json() -> str:
    """The request the CLI run sends the engine, as JSON for the raw baseline."""
    recorder = FakeEngine()
    asyncio.run(Runner(write_host(), recorder).run(Invocation(command="write", params=PARAMS)))
    return recorder.requests[0].model_dump_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    request = write_request_json()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "raw llama-cpp-python": [
            sys.executable, "-c", RAW, request, str(default_model_path()),
        ],
        "musekit run write": [
            str(MUSEKIT), "run", "write", "--length", str(PARAMS["length"]),
            "--seed", str(PARAMS["seed"]), str(PARAMS["prompt"]),
        ],
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEKIT_")}
        env["XDG_CONFIG_HOME"] = folder
        peaks: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, command in commands.items():
                peaks[name].append(peak_mb(command, folder, env))

    median = {name: statistics.median(values) for name, values in peaks.items()}
    print(f"peak RSS, median of {args.repeats} runs each:")
    for name, value in median.items():
        spread = f"{min(peaks[name]):.0f}-{max(peaks[name]):.0f}"
        print(f"  {name:22} {value:7.1f} MB  (range {spread})")
    cli, raw = median["musekit run write"], median["raw llama-cpp-python"]
    print(f"CLI over raw llama-cpp-python: {cli / raw:.2f}x (+{cli - raw:.0f} MB)")
    verdict = "ok" if cli < TARGET_MB else "ABOVE TARGET"
    print(f"CLI run: {cli:.0f} MB (target < {TARGET_MB} MB) {verdict}")
    print("request:", json.dumps(json.loads(request)["sampling"]))


if __name__ == "__main__":
    main()
