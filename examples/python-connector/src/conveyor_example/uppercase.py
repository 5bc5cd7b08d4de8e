"""An SMT that upper-cases one string field of record values (dicts or Structs)."""

from __future__ import annotations

from typing import Union

from conveyor import ConfigDef, SinkRecord, SourceRecord, Struct, Transformation
from conveyor.config import NonEmptyString

Record = Union[SourceRecord, SinkRecord]


class UppercaseField(Transformation):
    config_def = ConfigDef().define("field", str, validator=NonEmptyString(), doc="The field to upper-case.")

    def configure(self, config: dict[str, str]) -> None:
        self.field = config["field"]

    def apply(self, record: Record) -> Record:
        value = record.value
        if isinstance(value, Struct) and isinstance(value.get(self.field), str):
            return record.replace(value=value.replace(**{self.field: value[self.field].upper()}))
        if isinstance(value, dict) and isinstance(value.get(self.field), str):
            return record.replace(value={**value, self.field: value[self.field].upper()})
        return record
