"""Configuration definitions: typed, documented, validated config keys (Kafka Connect's
``ConfigDef``).

A connector, transformation or predicate declares its keys as a class attribute::

    from conveyor import ConfigDef
    from conveyor.config import OneOf, Range

    class Ticker(SourceConnector):
        config_def = (
            ConfigDef()
            .define("topic", str, doc="Topic to write to", importance="high")
            .define("interval.ms", int, 1000, validator=Range(min=1), doc="Pause between polls")
            .define("mode", str, "bulk", validator=OneOf("bulk", "incrementing"))
        )

The definition drives ``GET /connector-plugins/{plugin}/config`` and
``PUT /connector-plugins/{plugin}/config/validate``, and the worker refuses configs that do not
pass it, with Kafka Connect's error texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Callable, Literal, Union, final

from conveyor import _native

__all__ = ["ConfigDef", "ListOf", "NonEmptyString", "OneOf", "Range", "Validator"]

Importance = Literal["high", "medium", "low"]
Width = Literal["none", "short", "medium", "long"]
ConfigType = Union[
    type,
    Literal["string", "int", "short", "long", "double", "boolean", "list", "class", "password"],
]

_TYPES: dict[Any, str] = {
    str: "STRING",
    int: "LONG",
    float: "DOUBLE",
    bool: "BOOLEAN",
    list: "LIST",
}


class _Required:
    """The default of a key that has no default: the key must be set."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class Range:
    """The value must be a number in ``[min, max]`` (Connect's ``Range.atLeast``/``between``).

    Arguments:
        min: The smallest allowed value, or ``None`` for no lower bound.
        max: The largest allowed value, or ``None`` for no upper bound.
    """

    __slots__ = ("max", "min")

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        self.min = min
        self.max = max

    def _spec(self) -> tuple[Any, ...]:
        return (
            "range",
            None if self.min is None else float(self.min),
            None if self.max is None else float(self.max),
        )

    def __repr__(self) -> str:
        return f"Range(min={self.min!r}, max={self.max!r})"


class OneOf:
    """The value must be one of ``values`` (Connect's ``ValidString.in``); its values are
    also the key's recommended values.

    Arguments:
        values: The allowed values.
        case_insensitive: Compare ignoring case (``CaseInsensitiveValidString``).
    """

    __slots__ = ("case_insensitive", "values")

    def __init__(self, *values: str, case_insensitive: bool = False) -> None:
        self.values = [str(v) for v in values]
        self.case_insensitive = case_insensitive

    def _spec(self) -> tuple[Any, ...]:
        return ("one_of", self.values, self.case_insensitive)

    def __repr__(self) -> str:
        return f"OneOf({', '.join(map(repr, self.values))})"


class NonEmptyString:
    """The value must not be an empty string; ``None`` passes (Connect's ``NonEmptyString``)."""

    __slots__ = ()

    def _spec(self) -> tuple[Any, ...]:
        return ("non_empty",)

    def __repr__(self) -> str:
        return "NonEmptyString()"


class ListOf:
    """Each element of a list value must be one of ``values`` (Connect's ``ValidList.in``)."""

    __slots__ = ("values",)

    def __init__(self, *values: str) -> None:
        self.values = [str(v) for v in values]

    def _spec(self) -> tuple[Any, ...]:
        return ("list_of", self.values)

    def __repr__(self) -> str:
        return f"ListOf({', '.join(map(repr, self.values))})"


Validator = Union[Range, OneOf, NonEmptyString, ListOf, Callable[[Any], object]]
"""A built-in validator, or a callable that gets the parsed value and raises (for example
``ValueError("must be a power of two")``) when it is invalid."""


def _type_name(t: ConfigType) -> str:
    if isinstance(t, str):
        return t.upper()
    try:
        return _TYPES[t]
    except KeyError:
        raise TypeError(
            f"unsupported config type {t!r}: use str, int, float, bool, list or one of "
            "'string', 'int', 'short', 'long', 'double', 'boolean', 'list', 'class', 'password'"
        ) from None


def _render_default(value: Any) -> str:
    """A default as the user would write it in a properties file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


@final
class ConfigDef:
    """An ordered, immutable set of config keys; :meth:`define` returns a new one."""

    __slots__ = ("_native", "_orders")

    def __init__(self) -> None:
        self._native = _native.ConfigDef()
        self._orders: dict[str, int] = {}

    def define(
        self,
        name: str,
        type: ConfigType = str,
        default: Any = REQUIRED,
        *,
        validator: Validator | None = None,
        importance: Importance = "medium",
        doc: str = "",
        group: str | None = None,
        order: int | None = None,
        width: Width = "none",
        display_name: str | None = None,
        dependents: Iterable[str] = (),
        recommended: Iterable[str] = (),
    ) -> ConfigDef:
        """A copy of this definition with one more key (a key defined twice is replaced).

        Arguments:
            name: The key, for example ``"topic"`` or ``"poll.interval.ms"``.
            type: ``str``, ``int`` (Connect's LONG), ``float`` (DOUBLE), ``bool``, ``list``
                (comma-separated), or a Connect type name: ``"int"``, ``"short"``,
                ``"class"``, ``"password"`` (masked as ``[hidden]`` in REST answers).
            default: The value when the key is not set, written as a Python value (``5``,
                ``True``, ``["a", "b"]``); ``None`` means "no value". Leave it out to make
                the key required.
            validator: A :class:`Range`, :class:`OneOf`, :class:`NonEmptyString`,
                :class:`ListOf`, or a callable that gets the parsed value and raises when it
                is invalid (the exception text becomes the error).
            importance: ``"high"``, ``"medium"`` or ``"low"``.
            doc: What the key does, shown by ``/connector-plugins/{plugin}/config``.
            group: A group name for UIs (``"Connection"``, ``"Source"``...).
            order: Position in the group; by default, the next one.
            width: Display width hint: ``"none"``, ``"short"``, ``"medium"``, ``"long"``.
            display_name: A human name for UIs (default: ``name``).
            dependents: Keys whose validity depends on this one.
            recommended: Values to offer in ``/config/validate`` answers.

        Returns:
            The new definition.

        Raises:
            TypeError: ``type`` is not supported.
            ValueError: ``default`` does not parse as ``type``, or an option is unknown.
        """
        orders = dict(self._orders)
        if group is not None and order is None:
            order = orders.get(group, 0) + 1
        if group is not None:
            orders[group] = max(orders.get(group, 0), order or 0)
        if default is REQUIRED:
            rendered, is_null = None, False
        elif default is None:
            rendered, is_null = None, True
        else:
            rendered, is_null = _render_default(default), False
        spec: tuple[Any, ...] | None
        if validator is None:
            spec = None
        elif hasattr(validator, "_spec"):
            spec = validator._spec()  # type: ignore[union-attr]
        elif callable(validator):
            spec = ("custom", validator)
        else:
            raise TypeError(f"validator must be a Range, OneOf, ... or a callable, not {validator!r}")
        new = ConfigDef.__new__(ConfigDef)
        new._native = self._native.define(
            name,
            _type_name(type),
            rendered,
            is_null,
            spec,
            importance,
            doc,
            group,
            -1 if order is None else order,
            width,
            display_name,
            list(dependents),
            [str(r) for r in recommended],
        )
        new._orders = orders
        return new

    def parse(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Typed values of every defined key (defaults filled in).

        Arguments:
            config: The raw config, as the connector receives it.

        Returns:
            Key to typed value (``int``, ``float``, ``bool``, ``str``, ``list[str]``, or
            ``None``). Password values are returned in clear.

        Raises:
            ConfigError: One or more keys are missing or invalid; the message lists them all.
        """
        return self._native.parse(config)

    def validate(self, config: Mapping[str, Any]) -> dict[str, list[str]]:
        """Errors of ``config`` by key, with Kafka Connect's texts.

        Returns:
            Only keys with errors, each with its error messages; empty when valid.
        """
        return self._native.validate(config)

    @property
    def names(self) -> list[str]:
        """Defined keys, in definition order."""
        return self._native.names()

    @property
    def groups(self) -> list[str]:
        """Groups, in first-definition order."""
        return self._native.groups()

    def describe(self) -> list[dict[str, Any]]:
        """The keys as ``GET /connector-plugins/{plugin}/config`` shows them."""
        return self._native.describe()

    def __len__(self) -> int:
        return len(self._native)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._native

    def __repr__(self) -> str:
        return f"ConfigDef({', '.join(self.names)})"
