"""Staff forms: changes."""

from __future__ import annotations
