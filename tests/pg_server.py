"""A throwaway PostgreSQL server for the tests, from Debian's package binaries.

``initdb`` and ``pg_ctl`` (``/usr/lib/postgresql/VERSION/bin``) set up a cluster in a
temporary folder that listens on a free loopback port, with its unix socket in that
folder. PostgreSQL refuses to run as root: as root, the binaries run as the ``postgres``
system user (which Debian's package creates) in a folder it owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN_GLOB = "/usr/lib/postgresql/*/bin"
USER = "musekit"


def find_binaries() -> Path | None:
    """The newest PostgreSQL bin folder with initdb and pg_ctl, if any."""
    folders = [
        folder
        for folder in Path("/").glob(BIN_GLOB.lstrip("/"))
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file()
    ]
    return max(folders, key=lambda f: int(f.parent.name), default=None)


def unavailable_reason() -> str | None:
    """Why no server can be started here, or ``None`` if one can."""
    if find_binaries() is None:
        return (
            f"PostgreSQL binaries not found ({BIN_GLOB}/initdb, pg_ctl): "
            "install Debian's postgresql package to run these tests against PostgreSQL"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing (to run PostgreSQL as 'postgres')"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running cluster: ``url(database)`` for SQLAlchemy, ``dsn(database)`` for asyncpg."""

    folder: Path
    port: int
    password: str
    bin: Path

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "postgres") -> str:
        return self.dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)

    @classmethod
    def start(cls) -> PostgresServer:
        bin_folder = find_binaries()
        assert bin_folder is not None
        folder = Path(tempfile.mkdtemp(prefix="musekit-pg-"))
        password = secrets.token_hex(12)
        (folder / "pwfile").write_text(password + "\n", "utf-8")
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (folder, folder / "pwfile"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        server = cls(folder=folder, port=free_port(), password=password, bin=bin_folder)
        try:
            server._run(
                "initdb", "-D", str(folder / "data"), "-U", USER, "--auth=scram-sha-256",
                f"--pwfile={folder / 'pwfile'}", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8",
            )  # fmt: skip
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={server.port} "
                f"-c unix_socket_directories={folder} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
            )
            server._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(folder / "data"),
                "-l", str(folder / "server.log"), "-o", options,
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return server

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.folder / "data"))
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text("utf-8")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stderr}\n{tail}")
