"""`musekit serve`: the vLLM command line it builds, the vLLM process it runs, the embedded server.

vLLM cannot run here, so the process handling runs a stand-in ``vllm`` executable
(a small script that records its arguments and serves ``/health``) found on PATH,
exactly as the real one would be. The embedded server runs for real on the model.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import MUSEKIT_SCRIPT, Script
from pydantic import SecretStr

from musekit.errors import UsageError
from musekit.settings import ServeSettings, VLLMServeSettings, load_settings
from musekit_server.serve import choose_engine, is_loopback
from musekit_server.vllm import MANAGED_FLAGS, build_launch

STANDIN = """\
#!{python}
import http.server, json, os, sys, time
args = sys.argv[1:]
with open(os.environ["STANDIN_RECORD"], "w") as f:
    json.dump({{"argv": args, "api_key": os.environ.get("VLLM_API_KEY"), "pid": os.getpid()}}, f)
print("stand-in vllm: loading the model", flush=True)
mode = os.environ.get("STANDIN_MODE", "serve")
if mode == "crash":
    print("stand-in vllm: CUDA out of memory", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "hang":
    time.sleep(600)
time.sleep(0.3)

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if mode == "die":
            os._exit(5)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(args[args.index("--port") + 1])), Health).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Served:
    """A `musekit serve` subprocess whose stdout is read line by line as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(MUSEKIT_SCRIPT), "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Stdout up to the line containing ``text``."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.stdout):
            try:
                self.stdout.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in {self.stdout}") from None
        return "".join(self.stdout)

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        """Exit code and stderr, once the process ends (stdout stays the reader thread's:
        ``communicate`` would close it under the thread)."""
        self.process.wait(timeout=timeout)
        assert self.process.stderr is not None
        return self.process.returncode, self.process.stderr.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serve_env() -> dict[str, str]:
    """The environment of a `musekit serve` run, with a free loopback port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEKIT_")}
    env["MUSEKIT_SERVE__PORT"] = str(free_port())
    return env


@pytest.fixture
def standin(tmp_path: Path, serve_env: dict[str, str]) -> Path:
    """A stand-in ``vllm`` on PATH; returns the file where it records how it was started."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "vllm"
    script.write_text(STANDIN.format(python=sys.executable), "utf-8")
    script.chmod(0o755)
    record = tmp_path / "standin.json"
    serve_env.update(
        PATH=f"{bin_dir}{os.pathsep}{serve_env['PATH']}",
        STANDIN_RECORD=str(record),
        MUSEKIT_SERVE__ENGINE="vllm",
        MUSEKIT_SERVE__VLLM__MODEL="Qwen/Qwen3-8B",
    )
    return record


@pytest.fixture
def served() -> Iterator[list[Served]]:
    """Every `musekit serve` a test starts is killed at its end if still running."""
    started: list[Served] = []
    yield started
    for server in started:
        server.stop()


def start(served: list[Served], env: dict[str, str]) -> Served:
    server = Served(env)
    served.append(server)
    return server


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# The vLLM command line -------------------------------------------------------------


def test_the_vllm_command_line_carries_every_setting_and_the_api_key_only_in_its_env() -> None:
    settings = ServeSettings(
        host="10.0.0.5",
        port=8100,
        api_key=SecretStr("s3cret-key"),
        served_model_name="muse",
        vllm=VLLMServeSettings(
            model="Qwen/Qwen3-8B",
            max_model_len=32768,
            gpu_memory_utilization=0.9,
            tensor_parallel_size=2,
            pipeline_parallel_size=1,
            data_parallel_size=4,
            max_num_seqs=128,
            max_num_queued_reqs=256,
            max_num_queued_tokens=500000,
            structured_outputs_backend="xgrammar",
            data_parallel_size_local=2,
            data_parallel_address="10.0.0.5",
            data_parallel_rpc_port=13345,
            extra_args=["--dtype", "bfloat16"],
        ),
    )

    launch = build_launch(settings, "/opt/venv/bin/vllm")

    assert launch.argv == [
        "/opt/venv/bin/vllm", "serve", "Qwen/Qwen3-8B",
        "--host", "10.0.0.5",
        "--port", "8100",
        "--served-model-name", "muse",
        "--generation-config", "vllm",
        "--structured-outputs-config.backend", "xgrammar",
        "-tp", "2",
        "-pp", "1",
        "-dp", "4",
        "--max-model-len", "32768",
        "--gpu-memory-utilization", "0.9",
        "--max-num-seqs", "128",
        "--max-num-queued-reqs", "256",
        "--max-num-queued-tokens", "500000",
        "--data-parallel-size-local", "2",
        "--data-parallel-address", "10.0.0.5",
        "--data-parallel-rpc-port", "13345",
        "--dtype", "bfloat16",
    ]  # fmt: skip
    assert launch.env == {"VLLM_API_KEY": "s3cret-key"}
    assert not any("s3cret" in arg for arg in launch.argv)
    assert launch.served_model_name == "muse"
    assert not launch.headless


def test_by_default_vllm_serves_the_model_under_its_own_name_on_loopback() -> None:
    launch = build_launch(ServeSettings(vllm=VLLMServeSettings(model="org/m")))

    assert launch.argv == [
        "vllm", "serve", "org/m",
        "--host", "127.0.0.1",
        "--port", "8000",
        "--served-model-name", "org/m",
        "--generation-config", "vllm",
        "--structured-outputs-config.backend", "auto",
        "-tp", "1",
        "-pp", "1",
        "-dp", "1",
    ]  # fmt: skip
    assert launch.env == {}


def test_a_headless_worker_node_joins_the_head_node_by_address_with_ray_or_not() -> None:
    worker = VLLMServeSettings(
        model="org/m",
        data_parallel_size=4,
        data_parallel_size_local=2,
        data_parallel_start_rank=2,
        data_parallel_address="10.0.0.5",
        data_parallel_rpc_port=13345,
        headless=True,
    )
    launch = build_launch(ServeSettings(vllm=worker))
    assert launch.argv[-9:] == [
        "--data-parallel-size-local", "2",
        "--data-parallel-address", "10.0.0.5",
        "--data-parallel-rpc-port", "13345",
        "--data-parallel-start-rank", "2",
        "--headless",
    ]  # fmt: skip
    assert launch.headless

    ray = VLLMServeSettings(
        model="org/m", data_parallel_backend="ray", distributed_executor_backend="ray"
    )
    argv = build_launch(ServeSettings(vllm=ray)).argv
    assert argv[-4:] == ["--data-parallel-backend", "ray", "--distributed-executor-backend", "ray"]


@pytest.mark.parametrize(
    ("vllm", "message"),
    [
        (VLLMServeSettings(), "serve.vllm.model (env MUSEKIT_SERVE__VLLM__MODEL): set the model"),
        (
            VLLMServeSettings(model="m", extra_args=["--port=9000", "--max-num-seqs", "8"]),
            "serve.vllm.extra_args: --max-num-seqs, --port is set by musekit",
        ),
        (
            VLLMServeSettings(model="m", headless=True),
            "a headless worker needs serve.vllm.data_parallel_address",
        ),
    ],
    ids=["no model", "extra args clash", "headless without head"],
)
def test_a_launch_that_cannot_work_is_refused_with_the_setting_named(
    vllm: VLLMServeSettings, message: str
) -> None:
    with pytest.raises(UsageError) as refused:
        build_launch(ServeSettings(vllm=vllm))
    assert message in refused.value.message


def test_every_flag_the_launcher_emits_is_one_it_guards() -> None:
    everything = VLLMServeSettings(
        model="m",
        max_model_len=1,
        gpu_memory_utilization=0.5,
        max_num_seqs=1,
        max_num_queued_reqs=1,
        max_num_queued_tokens=1,
        data_parallel_size_local=1,
        data_parallel_address="h",
        data_parallel_rpc_port=1,
        data_parallel_start_rank=0,
        data_parallel_backend="ray",
        distributed_executor_backend="ray",
        headless=True,
    )
    flags = {arg for arg in build_launch(ServeSettings(vllm=everything)).argv if arg[0] == "-"}
    assert flags <= MANAGED_FLAGS
    assert len(flags) == 20


@pytest.mark.parametrize(
    ("setting", "vllm", "gpu", "chosen"),
    [
        ("auto", "/usr/bin/vllm", True, "vllm"),
        ("auto", "/usr/bin/vllm", False, "embedded"),
        ("auto", None, True, "embedded"),
        ("vllm", None, False, "vllm"),
        ("embedded", "/usr/bin/vllm", True, "embedded"),
    ],
)
def test_auto_picks_vllm_only_where_it_is_installed_and_a_gpu_is_present(
    setting: str, vllm: str | None, gpu: bool, chosen: str
) -> None:
    assert choose_engine(setting, vllm=vllm, gpu=gpu) == chosen


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("10.1.2.3", False), ("gpu-node-1", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# The vLLM process (a stand-in vllm on PATH) ------------------------------------------


def test_serve_starts_vllm_waits_for_health_prints_the_bot_settings_and_stops_it_on_ctrl_c(
    standin: Path, serve_env: dict[str, str], served: list[Served]
) -> None:
    port = int(serve_env["MUSEKIT_SERVE__PORT"])
    serve_env.update(MUSEKIT_SERVE__API_KEY="s3cret-key", MUSEKIT_SERVE__SERVED_MODEL_NAME="muse")
    server = start(served, serve_env)

    out = server.wait_for("Ctrl-C stops the server.")

    assert listening(port)  # ready means /health answered
    url = f"http://127.0.0.1:{port}/v1"
    assert f"musekit serve: serving 'muse' at {url}" in out
    assert "MUSEKIT_ENGINE__BACKEND=openai" in out
    assert f"MUSEKIT_ENGINE__OPENAI__BASE_URLS='[\"{url}\"]'" in out
    assert "MUSEKIT_ENGINE__OPENAI__MODEL=muse" in out
    assert "MUSEKIT_ENGINE__OPENAI__API_KEY=<the key in serve.api_key>" in out
    record = json.loads(standin.read_text("utf-8"))
    assert record["argv"][:4] == ["serve", "Qwen/Qwen3-8B", "--host", "127.0.0.1"]
    assert record["argv"][record["argv"].index("--port") + 1] == str(port)
    assert record["api_key"] == "s3cret-key"
    assert "s3cret" not in json.dumps(record["argv"])

    server.process.send_signal(signal.SIGINT)
    code, err = server.finish()

    assert code == 0
    assert "musekit serve: stopped." in err
    assert "s3cret" not in err + out
    assert not alive(record["pid"])
    assert not listening(port)


def test_vllm_exiting_before_it_is_ready_is_a_clear_error_with_its_output_shown(
    standin: Path, serve_env: dict[str, str], served: list[Served]
) -> None:
    serve_env["STANDIN_MODE"] = "crash"
    code, err = start(served, serve_env).finish()

    assert code == 1
    assert "stand-in vllm: CUDA out of memory" in err  # vLLM's own output, forwarded
    assert "Error: vLLM exited with code 3 before it was ready; its output above says why." in err
    assert "Traceback" not in err


def test_vllm_not_ready_in_time_is_stopped_with_a_clear_error(
    standin: Path, serve_env: dict[str, str], served: list[Served]
) -> None:
    serve_env.update(STANDIN_MODE="hang", MUSEKIT_SERVE__STARTUP_TIMEOUT="1")
    started = time.monotonic()
    code, err = start(served, serve_env).finish()

    assert code == 1
    assert "Error: vLLM was not ready after 1 s" in err
    assert "serve.startup_timeout (MUSEKIT_SERVE__STARTUP_TIMEOUT)" in err
    assert not alive(json.loads(standin.read_text("utf-8"))["pid"])
    assert time.monotonic() - started < 15


def test_vllm_dying_while_serving_ends_serve_with_its_exit_code(
    standin: Path, serve_env: dict[str, str], served: list[Served]
) -> None:
    serve_env["STANDIN_MODE"] = "die"  # answers /health once, then exits 5
    code, err = start(served, serve_env).finish()

    assert code == 1
    assert "Error: vLLM stopped with exit code 5; its output above says why." in err


def test_serve_engine_vllm_without_vllm_installed_says_how_to_get_it(
    serve_env: dict[str, str], served: list[Served]
) -> None:
    serve_env.update(MUSEKIT_SERVE__ENGINE="vllm", PATH=str(Path(sys.executable).parent))
    code, err = start(served, serve_env).finish()

    assert code == 1
    assert "vLLM is not installed here" in err
    assert "pip install 'musekit[vllm]'" in err


def test_listening_beyond_loopback_without_an_api_key_is_refused_before_anything_starts(
    serve_env: dict[str, str], served: list[Served]
) -> None:
    serve_env["MUSEKIT_SERVE__HOST"] = "0.0.0.0"
    code, err = start(served, serve_env).finish()

    assert code == 2
    assert "serve.host is '0.0.0.0', which other machines can reach: set serve.api_key" in err
    assert "MUSEKIT_SERVE__API_KEY" in err
    assert not listening(int(serve_env["MUSEKIT_SERVE__PORT"]))


def test_a_port_in_use_is_a_clear_error(serve_env: dict[str, str], served: list[Served]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve_env.update(MUSEKIT_SERVE__ENGINE="embedded", MUSEKIT_SERVE__PORT=str(port))
        code, err = start(served, serve_env).finish()

    assert code == 1
    assert f"Error: Port {port} on 127.0.0.1 is already in use" in err
    assert "serve.port (MUSEKIT_SERVE__PORT)" in err


# The embedded server (the real model) ------------------------------------------------


@pytest.mark.model
def test_embedded_serve_answers_the_openai_api_and_stops_cleanly(
    serve_env: dict[str, str], served: list[Served]
) -> None:
    port = int(serve_env["MUSEKIT_SERVE__PORT"])
    serve_env.update(MUSEKIT_SERVE__ENGINE="embedded", MUSEKIT_SERVE__API_KEY="s3cret-key")
    server = start(served, serve_env)
    out = server.wait_for("Ctrl-C stops the server.")
    url = f"http://127.0.0.1:{port}/v1"
    assert f"musekit serve: serving 'SmolLM2-135M-Instruct.Q4_1' at {url}" in out

    key = {"Authorization": "Bearer s3cret-key"}
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get(f"http://127.0.0.1:{port}/health").status_code == 200
        assert client.get("/models").status_code == 401  # the key guards /v1
        (card,) = client.get("/models", headers=key).json()["data"]
        reply = client.post(
            "/chat/completions",
            headers=key,
            json={
                "model": card["id"],
                "messages": [{"role": "user", "content": "Name a colour."}],
                "max_completion_tokens": 8,
                "seed": 1,
            },
        ).json()

    assert card == {**card, "id": "SmolLM2-135M-Instruct.Q4_1", "max_model_len": 2048}
    assert reply["choices"][0]["message"]["content"].strip()
    assert 0 < reply["usage"]["completion_tokens"] <= 8

    server.process.send_signal(signal.SIGINT)
    code, err = server.finish()
    assert code == 0
    assert "musekit serve: stopped." in err
    assert not listening(port)


# docs/serving.md -----------------------------------------------------------------------

SERVING_DOC = Path(__file__).resolve().parent.parent / "docs" / "serving.md"


def doc_blocks(marker: str) -> dict[str, str]:
    """The fenced blocks of docs/serving.md marked ``<!-- MARKER: NAME -->``, by name."""
    pattern = rf"<!-- {marker}: (\S+) -->\s*```\w*\n(.*?)\n```"
    return dict(re.findall(pattern, SERVING_DOC.read_text("utf-8"), re.DOTALL))


def test_each_settings_example_in_the_serving_doc_runs_the_command_shown_under_it(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, commands = doc_blocks("file"), doc_blocks("command")
    assert len(files) >= 3
    assert files.keys() == commands.keys()
    for name, toml in files.items():
        (isolated / name).write_text(toml, "utf-8")
        monkeypatch.setenv("MUSEKIT_CONFIG", str(isolated / name))

        launch = build_launch(load_settings().serve)

        assert launch.argv == shlex.split(commands[name]), name


@pytest.mark.model
def test_the_cli_pointed_at_embedded_serve_writes_what_it_writes_in_process(
    serve_env: dict[str, str], served: list[Served], musekit_script: Script
) -> None:
    port = int(serve_env["MUSEKIT_SERVE__PORT"])
    serve_env.update(MUSEKIT_SERVE__ENGINE="embedded", MUSEKIT_SERVE__API_KEY="s3cret-key")
    server = start(served, serve_env)
    server.wait_for("Ctrl-C stops the server.")
    command = ("run", "write", "--json", "--seed", "3", "--length", "short", "first snow")

    local = musekit_script(*command)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MUSEKIT_ENGINE__BACKEND", "openai")
        env.setenv("MUSEKIT_ENGINE__OPENAI__BASE_URLS", f'["http://127.0.0.1:{port}/v1"]')
        env.setenv("MUSEKIT_ENGINE__OPENAI__API_KEY", "s3cret-key")
        remote = musekit_script(*command)

    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    here, there = json.loads(local.stdout), json.loads(remote.stdout)
    assert there["sections"][0]["body"].strip()
    assert there["sections"] == here["sections"]
    assert there["metrics"]["completion_tokens"] == here["metrics"]["completion_tokens"] > 0
    assert (here["metrics"]["engine"], there["metrics"]["engine"]) == ("embedded", "openai")
    assert there["metrics"]["model"] == "SmolLM2-135M-Instruct.Q4_1"
