"""Conveyor: a Kafka Connect runtime with a Rust core and Python connectors."""

from __future__ import annotations

from conveyor._native import __version__

__all__ = ["__version__"]
