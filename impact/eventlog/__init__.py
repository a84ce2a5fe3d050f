"""The event log port and its two adapters (embedded SQLite, Kafka)."""

from impact.eventlog.base import EventLog, LogConsumer, LogUnavailable, Message, Record, StartPositions
from impact.settings import LogBackend, Settings


def open_event_log(settings: Settings) -> EventLog:
    """The log the settings name; opening connects lazily, so this never blocks."""
    if settings.event_log == LogBackend.kafka:
        from impact.eventlog.kafka import KafkaLog

        return KafkaLog.from_settings(settings)  # every client with the same connection and security settings
    from impact.eventlog.embedded import EmbeddedLog

    return EmbeddedLog(settings.log_path)


__all__ = ["EventLog", "LogConsumer", "LogUnavailable", "Message", "Record", "StartPositions", "open_event_log"]
