"""Conversions between Python's datetime types and Connect's logical types, used by the Rust
extension (Connect keeps logical values in their physical form: Date = days since the epoch,
Time = milliseconds since midnight, Timestamp = milliseconds since the epoch)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MS = timedelta(milliseconds=1)


def timestamp_to_ms(value: datetime) -> int:
    """Epoch milliseconds of ``value``; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - _EPOCH) // _MS


def ms_to_timestamp(ms: int) -> datetime:
    """A UTC datetime from epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)


def date_to_days(value: date) -> int:
    """Days since 1970-01-01 (a datetime contributes its date)."""
    if isinstance(value, datetime):
        value = value.date()
    return value.toordinal() - _EPOCH_ORDINAL


def days_to_date(days: int) -> date:
    return date.fromordinal(days + _EPOCH_ORDINAL)


def time_to_ms(value: time) -> int:
    """Milliseconds since midnight."""
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000


def ms_to_time(ms: int) -> time:
    seconds, millis = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour % 24, minute, second, millis * 1000)
