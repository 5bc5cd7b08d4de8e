"""Single message transforms (SMTs) and predicates (Kafka Connect's ``Transformation`` and
``Predicate``).

A transformation gets the records of a source task before they are converted and written, or
the records of a sink task after they are read and converted. Python transformations and
built-in ones chain in one pipeline (``transforms=a,b``); the runtime hands a Python
transformation a whole batch at a time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Union

from conveyor.config import ConfigDef, _shared_empty

if TYPE_CHECKING:
    from conveyor._native import SinkRecord, SourceRecord

__all__ = ["Predicate", "Record", "Transformation"]

Record = Union["SourceRecord", "SinkRecord"]
"""A source record (on source connectors) or a sink record (on sink connectors)."""


class Transformation:
    """Changes, reroutes or drops records one at a time.

    The worker creates the transformation with no arguments, sets :attr:`config` (the
    ``transforms.<alias>.*`` keys without the prefix) and calls :meth:`configure`. Override
    :meth:`apply`; override :meth:`apply_batch` too when a whole batch can be handled at once.
    """

    config_def: ClassVar[ConfigDef] = _shared_empty("transformation without a config_def of its own")
    """The transformation's own config keys."""

    version: ClassVar[str | None] = None
    """Shown by ``GET /connector-plugins?connectorsOnly=false``."""

    config: dict[str, str]
    """The transformation's config, set before :meth:`configure`."""

    def configure(self, config: dict[str, str]) -> None:
        """Called once with the transformation's config (checked against
        :attr:`config_def`)."""

    def apply(self, record: Record) -> Record | None:
        """The transformed record (usually ``record.replace(...)``), the same record, or
        ``None`` to drop it. An exception is a failure of this record, handled under the
        connector's ``errors.tolerance``."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement apply")

    def apply_batch(self, records: list[Record]) -> list[Record | None]:
        """Applies to a batch; returns one result per record, in order. The default calls
        :meth:`apply` for each record (an exception then fails only that record)."""
        return [self.apply(r) for r in records]

    def close(self) -> None:
        """Called when the task stops."""


class Predicate(ABC):
    """A condition that decides whether a transformation applies to a record
    (``transforms.<alias>.predicate``, optionally negated with ``.negate=true``)."""

    config_def: ClassVar[ConfigDef] = _shared_empty("predicate without a config_def of its own")
    version: ClassVar[str | None] = None
    config: dict[str, str]

    def configure(self, config: dict[str, str]) -> None:  # noqa: B027 - an optional hook
        """Called once with the predicate's config."""

    @abstractmethod
    def test(self, record: Record) -> bool:
        """True when the transformation should apply to ``record``."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Called when the task stops."""
