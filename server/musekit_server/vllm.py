"""The `vllm serve` command line and environment that `musekit serve` derives from settings.

Nothing here imports vLLM: the launcher runs vLLM's own ``vllm`` executable, so the
command it builds is exactly what a person would type, and can be tested without a GPU.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from musekit.errors import UsageError
from musekit.settings import ServeSettings

#: Flags the launcher sets from settings; ``serve.vllm.extra_args`` may not repeat them.
MANAGED_FLAGS = frozenset(
    {
        "--host",
        "--port",
        "--served-model-name",
        "--generation-config",
        "--structured-outputs-config.backend",
        "--tensor-parallel-size",
        "-tp",
        "--pipeline-parallel-size",
        "-pp",
        "--data-parallel-size",
        "-dp",
        "--max-model-len",
        "--gpu-memory-utilization",
        "--max-num-seqs",
        "--max-num-queued-reqs",
        "--max-num-queued-tokens",
        "--data-parallel-size-local",
        "--data-parallel-address",
        "--data-parallel-rpc-port",
        "--data-parallel-start-rank",
        "--data-parallel-backend",
        "--distributed-executor-backend",
        "--headless",
        "--api-key",
    }
)

#: vLLM reads its API key from this variable when ``--api-key`` is not given: a key in
#: the environment does not show in ``ps`` as an argument would.
API_KEY_VARIABLE = "VLLM_API_KEY"


@dataclass(frozen=True)
class VLLMLaunch:
    """One `vllm serve` process: its arguments, the variables added to its environment."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    served_model_name: str = ""
    headless: bool = False


def build_launch(settings: ServeSettings, executable: str = "vllm") -> VLLMLaunch:
    """The `vllm serve` command for these settings; a missing or clashing setting is an error."""
    vllm = settings.vllm
    if not vllm.model:
        raise UsageError(
            "serve.vllm.model (env MUSEKIT_SERVE__VLLM__MODEL): set the model vLLM should "
            "serve, a Hugging Face id or a local folder."
        )
    clashes = sorted(
        {arg.partition("=")[0] for arg in vllm.extra_args if arg.startswith("-")} & MANAGED_FLAGS
    )
    if clashes:
        raise UsageError(
            f"serve.vllm.extra_args: {', '.join(clashes)} is set by musekit from its own "
            "serve settings (docs/serving.md lists them); set it there instead."
        )
    if vllm.headless and not vllm.data_parallel_address:
        raise UsageError(
            "serve.vllm.headless: a headless worker needs serve.vllm.data_parallel_address, "
            "the address of the head node."
        )
    name = settings.served_model_name or vllm.model
    argv = [
        executable,
        "serve",
        vllm.model,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--served-model-name",
        name,
        "--generation-config",
        "vllm",
        "--structured-outputs-config.backend",
        vllm.structured_outputs_backend,
        "-tp",
        str(vllm.tensor_parallel_size),
        "-pp",
        str(vllm.pipeline_parallel_size),
        "-dp",
        str(vllm.data_parallel_size),
    ]
    optional: list[tuple[str, object]] = [
        ("--max-model-len", vllm.max_model_len),
        ("--gpu-memory-utilization", vllm.gpu_memory_utilization),
        ("--max-num-seqs", vllm.max_num_seqs),
        ("--max-num-queued-reqs", vllm.max_num_queued_reqs),
        ("--max-num-queued-tokens", vllm.max_num_queued_tokens),
        ("--data-parallel-size-local", vllm.data_parallel_size_local),
        ("--data-parallel-address", vllm.data_parallel_address),
        ("--data-parallel-rpc-port", vllm.data_parallel_rpc_port),
        ("--data-parallel-start-rank", vllm.data_parallel_start_rank),
        ("--data-parallel-backend", vllm.data_parallel_backend),
        ("--distributed-executor-backend", vllm.distributed_executor_backend),
    ]
    for flag, value in optional:
        if value is not None:
            argv += [flag, str(value)]
    if vllm.headless:
        argv.append("--headless")
    argv += vllm.extra_args
    env = {}
    if settings.api_key is not None:
        env[API_KEY_VARIABLE] = settings.api_key.get_secret_value()
    return VLLMLaunch(argv=argv, env=env, served_model_name=name, headless=vllm.headless)


def find_vllm() -> str | None:
    """The ``vllm`` executable: on ``PATH``, else next to this Python (an unactivated venv)."""
    found = shutil.which("vllm")
    if found:
        return found
    beside = Path(sys.executable).with_name("vllm")
    return str(beside) if beside.is_file() else None
