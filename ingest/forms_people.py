"""Staff forms: people."""

from __future__ import annotations
