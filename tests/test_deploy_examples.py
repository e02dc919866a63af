"""examples/deploy/: the Compose file and Kubernetes manifests are valid and hang together.

Docker and a cluster are not available here, so the files are parsed and checked
for what makes a deployment work or fail: ports that match, readiness on
``/health``, GPUs requested, Services that select existing pods, a router that
reaches the replicas, and vLLM flags that `musekit serve` itself knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from musekit_server.vllm import MANAGED_FLAGS

DEPLOY = Path(__file__).resolve().parent.parent / "examples" / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc is not None]


def manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted(KUBERNETES.glob("*.yaml")) for doc in documents(path)]


def flag_value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def check_vllm_args(args: list[str]) -> None:
    """A `vllm serve` argument list: the model first, then flags the launcher also sets."""
    assert not args[0].startswith("-"), "the model comes first"
    flags = {arg for arg in args if arg.startswith("-")}
    assert flags <= MANAGED_FLAGS, f"flags musekit serve does not set: {flags - MANAGED_FLAGS}"
    assert flag_value(args, "--generation-config") == "vllm"
    assert flag_value(args, "--host") == "0.0.0.0"


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_yaml_file_parses(path: Path) -> None:
    assert documents(path)


# compose.yaml ------------------------------------------------------------------------


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = documents(COMPOSE)[0]["services"]
    return services


def vllm_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose_services().items() if s.get("image", "").startswith("vllm/")}


def test_compose_vllm_replicas_each_get_their_own_gpu_and_are_healthy_on_health() -> None:
    replicas = vllm_services()
    assert len(replicas) >= 2
    gpus = []
    for service in replicas.values():
        check_vllm_args(service["command"])
        port = flag_value(service["command"], "--port")
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["capabilities"] == ["gpu"]
        gpus += device["device_ids"]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/health" in probe
        assert "ports" not in service  # only the router is published
    assert len(gpus) == len(set(gpus)), "two replicas share a GPU"


def test_compose_router_reaches_every_replica_on_its_port_once_healthy() -> None:
    services = compose_services()
    router = services["router"]
    args = router["command"]
    urls = []
    for arg in args[args.index("--worker-urls") + 1 :]:
        if arg.startswith("-"):
            break
        urls.append(arg)
    expected = {
        f"http://{name}:{flag_value(s['command'], '--port')}" for name, s in vllm_services().items()
    }
    assert set(urls) == expected
    assert router["depends_on"] == {n: {"condition": "service_healthy"} for n in vllm_services()}
    assert (DEPLOY / router["build"] / "Dockerfile").is_file()
    (published,) = router["ports"]
    host, _, inside = published.split(":")
    assert host == "127.0.0.1"
    assert inside == flag_value(args, "--port")


# Kubernetes ----------------------------------------------------------------------------


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests() if m["kind"] == kind]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def container_port(container: dict[str, Any], port: int | str) -> int:
    """The container port a probe or Service names, by name or number (or fails)."""
    for declared in container.get("ports", []):
        if port in (declared.get("name"), declared["containerPort"]):
            return int(declared["containerPort"])
    raise AssertionError(f"{container['name']} declares no port {port}")


def test_every_manifest_names_its_kind_and_namespace() -> None:
    for manifest in manifests():
        assert manifest["apiVersion"]
        assert manifest["metadata"]["name"]
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == "musekit"
    assert [n["metadata"]["name"] for n in of_kind("Namespace")] == ["musekit"]


def test_deployments_select_their_own_pods_and_are_ready_only_on_health() -> None:
    deployments = of_kind("Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {"vllm", "vllm-router"}
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for container in containers(deployment):
            probe = container["readinessProbe"]["httpGet"]
            assert probe["path"] == "/health"
            assert container_port(container, probe["port"]) == int(
                flag_value(container["args"], "--port")
            )


def test_vllm_pods_ask_for_as_many_gpus_as_tensor_parallel_needs() -> None:
    (deployment,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "vllm"]
    (container,) = containers(deployment)
    check_vllm_args(container["args"])
    gpus = int(flag_value(container["args"], "-tp"))
    assert container["resources"]["limits"]["nvidia.com/gpu"] == gpus
    assert container["resources"]["requests"]["nvidia.com/gpu"] == gpus
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"


def test_every_service_selects_a_deployments_pods_on_a_declared_port() -> None:
    deployments = of_kind("Deployment")
    services = of_kind("Service")
    assert services
    for service in services:
        selector = service["spec"]["selector"].items()
        matching = [
            d
            for d in deployments
            if selector <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matching, f"Service {service['metadata']['name']} selects no Deployment's pods"
        for port in service["spec"]["ports"]:
            for deployment in matching:
                (container,) = containers(deployment)
                container_port(container, port["targetPort"])


def test_the_router_discovers_the_vllm_pods_with_the_rights_to_do_so() -> None:
    (router,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "vllm-router"]
    (vllm,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "vllm"]
    (container,) = containers(router)
    args = container["args"]
    key, _, value = flag_value(args, "--selector").partition("=")
    assert vllm["spec"]["template"]["metadata"]["labels"][key] == value
    assert flag_value(args, "--service-discovery-namespace") == vllm["metadata"]["namespace"]
    (replica,) = containers(vllm)
    assert int(flag_value(args, "--service-discovery-port")) == container_port(replica, "http")

    account = router["spec"]["template"]["spec"]["serviceAccountName"]
    (binding,) = of_kind("RoleBinding")
    subject = {"kind": "ServiceAccount", "name": account, "namespace": "musekit"}
    assert subject in binding["subjects"]
    (role,) = [r for r in of_kind("Role") if r["metadata"]["name"] == binding["roleRef"]["name"]]
    (rule,) = role["rules"]
    assert "pods" in rule["resources"]
    assert {"list", "watch"} <= set(rule["verbs"])
    assert [a["metadata"]["name"] for a in of_kind("ServiceAccount")] == [account]
