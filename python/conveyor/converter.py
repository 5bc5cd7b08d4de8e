"""Converters between Connect data and the bytes stored in Kafka (Kafka Connect's
``Converter`` and ``HeaderConverter``).

Use one with ``key.converter``/``value.converter`` (and ``header.converter`` if it implements
the header methods), on the worker or on a connector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from conveyor._native import Schema

__all__ = ["Converter"]


class Converter:
    """Serializes record keys or values, and optionally headers.

    The worker creates the converter with no arguments and calls :meth:`configure` with the
    ``key.converter.*``/``value.converter.*`` keys (prefix removed). Implement
    :meth:`from_connect_data` and :meth:`to_connect_data`; implement
    :meth:`from_connect_header` and :meth:`to_connect_header` to make it a header converter
    too. Converters are called once per record.
    """

    version: ClassVar[str | None] = None

    def configure(self, config: dict[str, str], is_key: bool) -> None:
        """Called once.

        Arguments:
            config: The converter's settings.
            is_key: True when converting keys, false for values and headers.
        """

    def from_connect_data(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        """Serializes a key or value; ``None`` writes a Kafka null."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement from_connect_data")

    def to_connect_data(self, topic: str, data: bytes | None) -> tuple[Schema | None, Any]:
        """Deserializes Kafka bytes (``None`` for a Kafka null) to ``(schema, value)``; the
        schema may be ``None`` for schemaless data."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement to_connect_data")

    def from_connect_header(self, topic: str, key: str, schema: Schema | None, value: Any) -> bytes | None:
        """Serializes a header value."""
        raise NotImplementedError

    def to_connect_header(self, topic: str, key: str, data: bytes | None) -> tuple[Schema | None, Any]:
        """Deserializes a header value to ``(schema, value)``."""
        raise NotImplementedError
