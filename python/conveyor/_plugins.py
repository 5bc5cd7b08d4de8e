"""Finding Python plugins by name, for the Rust plugin registry.

A name can be ``package.module:Class``, ``package.module.Class``, an entry point name in the
group of its kind (``conveyor.connectors``, ``conveyor.transforms``, ``conveyor.predicates``,
``conveyor.converters``), or the simple name of a class found on ``plugin.path`` or through an
entry point. Errors are of two sorts, which the runtime treats differently:

* :class:`~conveyor.errors.ConfigError`: the name is wrong (no such class, not a subclass of
  the right base, a module that does not exist). The config is rejected.
* anything else: the module exists but failed to import (a syntax error, a missing
  dependency). The connector or task using it is marked ``FAILED`` with the traceback.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import os
import pkgutil
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

from conveyor.connector import SinkConnector, SourceConnector
from conveyor.converter import Converter
from conveyor.errors import ConfigError
from conveyor.task import SinkTask, SourceTask
from conveyor.transform import Predicate, Transformation

GROUPS = {
    "connector": "conveyor.connectors",
    "transformation": "conveyor.transforms",
    "predicate": "conveyor.predicates",
    "converter": "conveyor.converters",
}

BASES: dict[str, tuple[type, ...]] = {
    "connector": (SourceConnector, SinkConnector),
    "task": (SourceTask, SinkTask),
    "transformation": (Transformation,),
    "predicate": (Predicate,),
    "converter": (Converter,),
}

_BASE_NAMES = {
    "connector": "conveyor.SourceConnector or conveyor.SinkConnector",
    "task": "conveyor.SourceTask or conveyor.SinkTask",
    "transformation": "conveyor.Transformation",
    "predicate": "conveyor.Predicate",
    "converter": "conveyor.Converter",
}

_plugin_path: list[str] = []
_scanned: list[tuple[str, type]] | None = None
_problems: list[str] = []
_aliases: dict[tuple[str, str], type] = {}
_entry_point_names: dict[type, list[str]] = {}
_versions: dict[type, str] = {}


def class_name(cls: type) -> str:
    """The name a plugin is listed under: ``package.module.Class``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def add_plugin_path(paths: list[str]) -> None:
    """Makes ``plugin.path`` directories importable (checked first, as Connect's plugin
    isolation would)."""
    global _scanned
    for p in paths:
        p = os.path.abspath(os.path.expanduser(p))
        if p not in _plugin_path:
            _plugin_path.append(p)
            if p not in sys.path:
                sys.path.insert(0, p)
            _scanned = None


def _entry_points(group: str) -> list[Any]:
    from importlib import metadata

    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=group))
    return list(eps.get(group, []))  # Python 3.9


def _module_missing(exc: ModuleNotFoundError, module: str) -> bool:
    """True when ``exc`` says ``module`` itself (or a parent package) does not exist, rather
    than that something it imports is missing."""
    missing = exc.name or ""
    return module == missing or module.startswith(missing + ".")


def _attr(obj: Any, qualname: str, where: str) -> Any:
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            close = difflib.get_close_matches(part, [n for n in dir(obj) if not n.startswith("_")], n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(f"{where} has no attribute {qualname!r}{hint}") from None
    return obj


def _import_dotted(name: str) -> Any | None:
    """The object called ``package.module.Class``: the longest importable module prefix,
    then attributes. ``None`` when no prefix names an existing module or the attributes are
    missing: a Java class name such as ``io.confluent.connect.avro.AvroConverter`` is not a
    Python plugin just because ``io`` is a module."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:i])
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if _module_missing(e, module):
                continue
            raise
        try:
            return _attr(mod, ".".join(parts[i:]), f"module {module!r}")
        except ConfigError:
            return None
    return None


def _overrides(cls: type, base: type, method: str) -> bool:
    return getattr(cls, method, None) is not getattr(base, method, None)


def _warn_shared_config_def(cls: type) -> None:
    """Warns when a class's own ``config_def`` is the very object of a base class's: with
    ``config_def = Base.config_def.define(...)`` (``define`` changes in place), the keys were
    added to the base's definition too."""
    own = cls.__dict__.get("config_def")
    if own is None:
        return
    for base in cls.__mro__[1:]:
        if base.__dict__.get("config_def") is own and not getattr(own, "_frozen", None):
            warnings.warn(
                f"{class_name(cls)}.config_def is the same ConfigDef as {class_name(base)}.config_def, "
                "so keys defined for one are defined for both: use "
                f"{base.__name__}.config_def.copy().define(...)",
                stacklevel=3,
            )
            return


def check(kind: str, obj: Any, label: str) -> type:
    """``obj`` if it is a usable plugin class of ``kind``; otherwise a ConfigError naming it."""
    bases = BASES[kind]
    if not inspect.isclass(obj):
        raise ConfigError(f"{label} is a {type(obj).__name__}, not a class ({_BASE_NAMES[kind]} subclass)")
    if not issubclass(obj, bases):
        parents = ", ".join(class_name(b) for b in obj.__mro__[1:-1]) or "object"
        raise ConfigError(f"{class_name(obj)} does not subclass {_BASE_NAMES[kind]} (its bases: {parents})")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise ConfigError(f"{class_name(obj)} does not implement {missing}")
    if kind == "connector":
        task = getattr(obj, "task_class", None)
        if task is None:
            raise ConfigError(f"{class_name(obj)} has no task_class: set it to its task class")
        if not isinstance(task, str):
            want = SourceTask if issubclass(obj, SourceConnector) else SinkTask
            if not (inspect.isclass(task) and issubclass(task, want)):
                raise ConfigError(
                    f"{class_name(obj)}.task_class must be a conveyor.{want.__name__} subclass, got {task!r}"
                )
    _warn_shared_config_def(obj)
    if kind == "transformation" and not (
        _overrides(obj, Transformation, "apply") or _overrides(obj, Transformation, "apply_batch")
    ):
        raise ConfigError(f"{class_name(obj)} does not implement apply")
    if kind == "converter" and not (
        _overrides(obj, Converter, "from_connect_data") or _overrides(obj, Converter, "from_connect_header")
    ):
        raise ConfigError(
            f"{class_name(obj)} implements neither from_connect_data/to_connect_data nor "
            "from_connect_header/to_connect_header"
        )
    return obj


def resolve(kind: str, name: str) -> type | None:
    """The plugin class called ``name``, ``None`` when the name is not a Python one."""
    name = name.strip()
    group = GROUPS.get(kind)
    if group:
        for ep in _entry_points(group):
            if ep.name == name:
                return check(kind, ep.load(), f"entry point {name!r} ({ep.value})")
    known = _aliases.get((kind, name))
    if known is not None:
        return known
    if ":" in name:
        module, _, qualname = name.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if _module_missing(e, module):
                raise ConfigError(
                    f"cannot load {name}: no module named {module!r}; is its package installed "
                    "in this Python environment, or its directory listed in plugin.path?"
                ) from None
            raise
        return check(kind, _attr(mod, qualname, f"module {module!r}"), name)
    if "." in name:
        obj = _import_dotted(name)
        return None if obj is None else check(kind, obj, name)
    scan()
    return _aliases.get((kind, name))


def task_class_name(connector: type) -> str:
    """The ``task.class`` of a connector's tasks."""
    task = connector.task_class  # type: ignore[attr-defined]
    return task.strip() if isinstance(task, str) else class_name(task)


def connector_type(cls: type) -> str:
    return "source" if issubclass(cls, SourceConnector) else "sink"


def version(cls: type) -> str:
    """The plugin's ``version`` attribute, else the version of the distribution providing
    its top-level package, else ``"unknown"``."""
    own = getattr(cls, "version", None)
    if isinstance(own, str) and own:
        return own
    if cls in _versions:
        return _versions[cls]
    found = "unknown"
    top = cls.__module__.split(".")[0]
    try:
        from importlib import metadata

        dists = getattr(metadata, "packages_distributions", lambda: {})().get(top, [])
        if dists:
            found = metadata.version(dists[0])
    except Exception:  # noqa: BLE001 - metadata is best effort
        pass
    if found == "unknown":
        mod = sys.modules.get(top)
        v = getattr(mod, "__version__", None)
        if isinstance(v, str):
            found = v
    _versions[cls] = found
    return found


def aliases(cls: type) -> list[str]:
    """Other names for a plugin class: ``module:Class``, its simple name, and the simple name
    without its kind suffix (``TickerConnector`` -> ``Ticker``), as Connect's aliases."""
    simple = cls.__name__
    out = [f"{cls.__module__}:{cls.__qualname__}", simple]
    for suffix in ("Connector", "Transformation", "Transform", "Predicate", "Converter"):
        if simple.endswith(suffix) and len(simple) > len(suffix):
            out.append(simple[: -len(suffix)])
    return out


def _kinds_of(cls: type) -> list[str]:
    return [kind for kind, bases in BASES.items() if kind != "task" and issubclass(cls, bases)]


def _remember(kind: str, cls: type, names: list[str]) -> None:
    for n in [class_name(cls), *aliases(cls), *names]:
        _aliases.setdefault((kind, n), cls)


def _plugin_path_modules() -> Iterator[str]:
    for root in _plugin_path:
        if not os.path.isdir(root):
            _problems.append(f"plugin.path entry {root} is not a directory")
            continue
        for info in pkgutil.iter_modules([root]):
            if info.name.startswith("_"):
                continue
            yield info.name
            if info.ispkg:
                pkg_dir = os.path.join(root, info.name)
                for sub in pkgutil.walk_packages([pkg_dir], prefix=info.name + "."):
                    if not sub.name.rsplit(".", 1)[-1].startswith("_"):
                        yield sub.name


def scan() -> list[tuple[str, type]]:
    """Every plugin class from entry points and ``plugin.path`` modules (cached). Modules
    that fail to import are skipped and reported by :func:`problems`."""
    global _scanned
    if _scanned is not None:
        return _scanned
    found: list[tuple[str, type]] = []
    for kind, group in GROUPS.items():
        for ep in _entry_points(group):
            try:
                cls = check(kind, ep.load(), f"entry point {ep.name!r} ({ep.value})")
            except Exception as e:  # noqa: BLE001 - one broken plugin must not hide the others
                _problems.append(f"entry point {ep.name!r} in {group} ({ep.value}): {type(e).__name__}: {e}")
                continue
            _remember(kind, cls, [ep.name])
            names = _entry_point_names.setdefault(cls, [])
            if ep.name not in names:
                names.append(ep.name)
            found.append((kind, cls))
    for module in _plugin_path_modules():
        try:
            mod = importlib.import_module(module)
        except Exception as e:  # noqa: BLE001
            _problems.append(f"plugin.path module {module}: {type(e).__name__}: {e}")
            continue
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if obj.__module__ != mod.__name__ or inspect.isabstract(obj):
                continue
            for kind in _kinds_of(obj):
                try:
                    check(kind, obj, class_name(obj))
                except ConfigError:
                    continue
                _remember(kind, obj, [])
                found.append((kind, obj))
    seen: set[tuple[str, type]] = set()
    _scanned = [f for f in found if not (f in seen or seen.add(f))]
    return _scanned


def problems() -> list[str]:
    """What :func:`scan` could not load, once (the caller logs them)."""
    out = list(_problems)
    _problems.clear()
    return out


def listing() -> list[tuple[str, str, str, list[str]]]:
    """``(class, type, version, entry point names)`` for ``GET /connector-plugins``:
    connectors as ``source`` or ``sink``, converters as ``converter`` and/or
    ``header_converter``."""
    out = []
    for kind, cls in scan():
        names = sorted(_entry_point_names.get(cls, []))
        if kind == "connector":
            out.append((class_name(cls), connector_type(cls), version(cls), names))
        elif kind == "converter":
            if _overrides(cls, Converter, "from_connect_data"):
                out.append((class_name(cls), "converter", version(cls), names))
            if _overrides(cls, Converter, "from_connect_header"):
                out.append((class_name(cls), "header_converter", version(cls), names))
        else:
            out.append((class_name(cls), kind, version(cls), names))
    return out


def overrides(cls: type, method: str) -> bool:
    """Whether ``cls`` implements ``method`` itself rather than inheriting the base's."""
    for base in (SourceConnector, SinkConnector, SourceTask, SinkTask, Transformation, Predicate, Converter):
        if issubclass(cls, base) and hasattr(base, method):
            return _overrides(cls, base, method)
    return True


def _internal_frame(filename: str) -> bool:
    """Frames of the import machinery and of this module, which say nothing about the
    plugin's own error."""
    return (
        filename.startswith("<frozen importlib")
        or filename == __file__
        or filename.endswith(os.path.join("importlib", "__init__.py"))
    )


def format_exception(exc: BaseException, tb: Any = None) -> str:
    """The traceback of a plugin error, without the import machinery's frames."""
    if tb is not None:
        exc = exc.with_traceback(tb)
    te = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    todo = [te]
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        t.stack = traceback.StackSummary.from_list([f for f in t.stack if not _internal_frame(f.filename)])
        todo.extend(x for x in (t.__cause__, t.__context__) if x is not None)
    return "".join(te.format())


class _RustLogHandler(logging.Handler):
    """Sends Python log records to the worker's log (Rust ``tracing``), so that a plugin's
    ``logging`` calls appear next to the runtime's lines, with the task's context."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from conveyor import _native

            _native._log(record.levelno, record.name, self.format(record))
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def install_log_bridge() -> None:
    """Routes Python logging to the worker log when nothing else is configured (the
    ``conveyor`` command); an application that configured logging keeps its own setup."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = _RustLogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
