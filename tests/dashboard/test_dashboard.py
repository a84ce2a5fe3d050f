"""The dashboard's tests moved by concern: tests/dashboard/app/ (the app end to end: overview, access), and
test_formatting.py and test_filters.py beside this file. This module only keeps the helpers that other
suites import under their old name; new code imports them from tests.dashboard.app.helpers."""

from __future__ import annotations

from tests.dashboard.app.helpers import callback_body, post_overview, sign_out_token

__all__ = ["callback_body", "post_overview", "sign_out_token"]
