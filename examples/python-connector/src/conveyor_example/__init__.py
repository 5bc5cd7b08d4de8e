"""Example Conveyor plugins: a counter source, a JSON-lines file sink and an SMT."""

from conveyor_example.counter import CounterSource, CounterTask
from conveyor_example.jsonl_sink import JsonLinesSink, JsonLinesTask
from conveyor_example.uppercase import UppercaseField

__all__ = ["CounterSource", "CounterTask", "JsonLinesSink", "JsonLinesTask", "UppercaseField"]
__version__ = "0.1.0"
