"""Staff forms: activities."""

from __future__ import annotations
