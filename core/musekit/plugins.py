"""Loading plugins: entry-point discovery, validation, and fault isolation.

A plugin is a module (or any object) with ``@hookimpl`` functions and a
``MUSEKIT_API`` tuple naming the SDK API versions it supports. Plugins are
found through the ``musekit.plugins`` entry-point group; the built-in ones are
found the same way. A plugin that fails to import, to validate, or to register
is recorded with its error and skipped: the host and the other plugins go on.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pluggy
from pydantic import BaseModel, ValidationError

from musekit import hookspecs
from musekit.errors import CommandNotFound, CommandUnavailable, SettingsError
from musekit.hookspecs import CommandHandler, PermissionCheck
from musekit.spec import CommandSpec, field_problems

#: The SDK API version this host implements; plugins list the versions they support.
API_VERSION = 1
ENTRY_POINT_GROUP = "musekit.plugins"

logger = logging.getLogger("musekit.plugins")

PluginStatus = Literal["loaded", "failed", "disabled", "incompatible"]


class RegistrationRefused(Exception):
    """A plugin broke a rule of the SDK; the message, written by the host, says which."""


@dataclass
class PluginInfo:
    """What the host knows about one plugin."""

    name: str
    version: str
    status: PluginStatus = "loaded"
    commands: list[str] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    traceback: str | None = None
    settings: BaseModel | None = None


@dataclass(frozen=True)
class RegisteredCommand:
    """A command with the plugin that supplied it."""

    spec: CommandSpec
    handler: CommandHandler
    plugin: str


@dataclass(frozen=True)
class PluginSelection:
    """Which plugins to load: ``enabled`` (if set) is an allow-list; ``disabled`` always wins."""

    enabled: frozenset[str] | None = None
    disabled: frozenset[str] = frozenset()

    def allows(self, name: str) -> bool:
        if name in self.disabled:
            return False
        return self.enabled is None or name in self.enabled


class PluginHost:
    """Holds the loaded plugins and everything they registered."""

    def __init__(
        self,
        selection: PluginSelection | None = None,
        plugin_config: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.selection = selection or PluginSelection()
        self.plugin_config = plugin_config or {}
        self.plugins: dict[str, PluginInfo] = {}
        self.commands: dict[str, RegisteredCommand] = {}
        #: Commands that a plugin registered before it failed, with that plugin's name.
        self.unavailable: dict[str, str] = {}
        self.permission_checks: list[tuple[str, PermissionCheck]] = []
        self._pm = pluggy.PluginManager("musekit")
        self._pm.add_hookspecs(hookspecs)

    # Discovery -------------------------------------------------------------

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Import and register every plugin advertised in the entry-point group."""
        for entry_point in sorted(importlib.metadata.entry_points(group=group), key=_ep_name):
            version = entry_point.dist.version if entry_point.dist else "unknown"
            if entry_point.name in self.plugins:
                logger.warning("plugin %r is advertised twice; keeping the first", entry_point.name)
                continue
            if not self.selection.allows(entry_point.name):
                self.plugins[entry_point.name] = PluginInfo(
                    entry_point.name, version, status="disabled"
                )
                continue
            try:
                plugin = entry_point.load()
            except Exception as exc:
                self._fail(PluginInfo(entry_point.name, version), "failed to import", exc)
                continue
            self.add(plugin, name=entry_point.name, version=version)

    def add(self, plugin: object, *, name: str, version: str = "0") -> PluginInfo:
        """Register one plugin object (a module, class or instance with hook functions)."""
        info = PluginInfo(name, version)
        self.plugins[name] = info
        if not self.selection.allows(name):
            info.status = "disabled"
            return info
        supported = getattr(plugin, "MUSEKIT_API", None)
        if not isinstance(supported, tuple | list | set | frozenset) or (
            API_VERSION not in supported
        ):
            info.status = "incompatible"
            info.error = f"{_describe_api(supported)}; this musekit provides API {API_VERSION}"
            logger.warning("plugin %r skipped: %s", name, info.error)
            return info
        try:
            self._check_hooks(plugin)
            self._pm.register(plugin, name=name)
        except (RegistrationRefused, pluggy.PluginValidationError) as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            return self._fail(info, "is invalid", exc)
        except Exception as exc:
            return self._fail(info, "could not be registered", exc)
        self._collect(plugin, info)
        return info

    # Lookup ----------------------------------------------------------------

    def command(self, name: str) -> RegisteredCommand:
        """The command called ``name``.

        Raises :class:`CommandUnavailable` if its plugin failed after registering
        it, else :class:`CommandNotFound` if no plugin provides it.
        """
        if name in self.commands:
            return self.commands[name]
        if name in self.unavailable:
            plugin = self.plugins[self.unavailable[name]]
            raise CommandUnavailable(name, plugin.name, plugin.error or "failed to load")
        raise CommandNotFound(name, list(self.commands))

    def plugin_settings(self, plugin: str) -> BaseModel | None:
        """The validated settings of a plugin, or ``None`` if it declares none."""
        return self.plugins[plugin].settings

    # Internals -------------------------------------------------------------

    def _check_hooks(self, plugin: object) -> None:
        """Refuse implementations of hooks musekit does not define (pluggy checks the rest)."""
        known = {name for name, caller in vars(self._pm.hook).items() if caller.spec is not None}
        for attr in dir(plugin):
            if attr not in known and self._pm.parse_hookimpl_opts(plugin, attr) is not None:
                raise RegistrationRefused(
                    f"{attr} is not a musekit hook (hooks: {', '.join(sorted(known))})"
                )

    def _collect(self, plugin: object, info: PluginInfo) -> None:
        """Call this plugin's ``register_*`` hooks with callbacks bound to it.

        Settings are validated before permission checks register, which may read them.
        """
        registrars: dict[str, Callable[..., None]] = {
            "register_commands": lambda spec, handler: self._add_command(info, spec, handler),
            "register_settings": lambda model: self._add_settings(info, model),
            "register_permission_checks": lambda check: self.permission_checks.append(
                (info.name, check)
            ),
        }
        for hook_name, register in registrars.items():
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                offered = {"register": register, "settings": info.settings}
                try:
                    impl.function(**{name: offered[name] for name in impl.argnames})
                except Exception as exc:
                    self._drop(plugin, info)
                    self._fail(info, f"raised in {hook_name}", exc)
                    return

    def _add_command(self, info: PluginInfo, spec: CommandSpec, handler: CommandHandler) -> None:
        if not isinstance(spec, CommandSpec):
            raise RegistrationRefused("register() expects a CommandSpec and a handler")
        if not inspect.iscoroutinefunction(handler):
            raise RegistrationRefused(
                f"the handler of command '{spec.name}' must be an async function (async def)"
            )
        existing = self.commands.get(spec.name)
        if existing is not None:
            problem = f"command '{spec.name}' is already provided by plugin '{existing.plugin}'"
            info.problems.append(problem)
            logger.warning("plugin %r: %s", info.name, problem)
            return
        self.commands[spec.name] = RegisteredCommand(spec, handler, info.name)
        info.commands.append(spec.name)

    def _add_settings(self, info: PluginInfo, model: type[BaseModel]) -> None:
        section = self.plugin_config.get(info.name, {})
        try:
            info.settings = model.model_validate(section)
        except ValidationError as exc:
            problems = field_problems(exc, "unknown setting")
            lines = "; ".join(f"plugin_config.{info.name}.{p.field}: {p.problem}" for p in problems)
            raise SettingsError(lines) from None

    def _drop(self, plugin: object, info: PluginInfo) -> None:
        """Forget everything a plugin registered before it failed."""
        for name in info.commands:
            self.commands.pop(name, None)
            self.unavailable[name] = info.name
        info.commands.clear()
        self.permission_checks = [(p, c) for p, c in self.permission_checks if p != info.name]
        if self._pm.is_registered(plugin):
            self._pm.unregister(plugin)

    def _fail(self, info: PluginInfo, what: str, exc: BaseException) -> PluginInfo:
        """Record a load failure without letting it escape; only safe text is kept."""
        info.status = "failed"
        if isinstance(exc, SettingsError):
            info.error = f"has invalid settings: {exc.message}"
        elif isinstance(exc, RegistrationRefused):
            info.error = f"is invalid: {exc}"
        elif isinstance(exc, pluggy.PluginValidationError):
            info.error = f"is invalid: {' '.join(str(exc).split())}"
        else:
            info.error = f"{what} ({type(exc).__name__})"
        info.traceback = "".join(traceback.format_exception(exc))
        self.plugins[info.name] = info
        logger.warning("plugin %r %s", info.name, info.error)
        return info


def _ep_name(entry_point: importlib.metadata.EntryPoint) -> str:
    return entry_point.name


def _describe_api(supported: object) -> str:
    if isinstance(supported, tuple | list | set | frozenset):
        return f"supports musekit API {', '.join(str(v) for v in supported) or 'none'}"
    return (
        f"declares no MUSEKIT_API (a plugin for this musekit sets MUSEKIT_API = ({API_VERSION},))"
    )
