"""Shared pieces of Involvement Impact: settings, database engine, event log, command line."""
