"""The contracts: events, vocabularies, read-model tables and the data-quality suite.

This package imports nothing else of the project.
"""
