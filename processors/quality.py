"""The Great Expectations adapter: validates one micro-batch frame against the declared suite.

One validation per batch (GX costs ~35 ms per run whatever the size), in an ephemeral context.
Failing rows are identified by `event_id` through `unexpected_index_column_names`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from schemas.quality import EXPECTATIONS, SUITE_NAME, Expectation

# A failing event is told the first expectation it failed in declared order (the root cause first).
_RANK = {expectation.name: rank for rank, expectation in enumerate(EXPECTATIONS)}


@dataclass(frozen=True)
class Failure:
    expectation: str
    reason: str


class QualityGate:
    """Built once per process (GX import and context set-up take seconds); `check` per batch."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        for noisy in ("great_expectations", "great_expectations.core", "great_expectations.expectations"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("micro_batches")
        asset = source.add_dataframe_asset(name="events")
        self._batch_definition = asset.add_batch_definition_whole_dataframe("batch")
        suite = gx.ExpectationSuite(name=SUITE_NAME)
        for expectation in EXPECTATIONS:
            suite.add_expectation(self._build(gx, expectation))
        self._suite = context.suites.add(suite)

    @staticmethod
    def _build(gx: Any, expectation: Expectation) -> Any:
        cls = getattr(gx.expectations, expectation.gx_type)
        return cls(**expectation.kwargs, meta={"name": expectation.name})

    def check(self, frame: pd.DataFrame) -> dict[str, Failure]:
        """The first failed expectation of each failing event, by event_id."""
        if frame.empty:
            return {}
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        # Most batches pass: a yes/no validation first, and the one that names each failing event only if not.
        if batch.validate(self._suite, result_format={"result_format": "BOOLEAN_ONLY"}).success:
            return {}
        result = batch.validate(
            self._suite,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["event_id"]},
        )
        failed: dict[str, int] = {}
        for outcome in result.results:
            if outcome.success:
                continue
            config = outcome.expectation_config
            rank = _RANK[((config.meta if config else None) or {})["name"]]
            if outcome.exception_info and outcome.exception_info.get("raised_exception"):
                raise RuntimeError(f"expectation {EXPECTATIONS[rank].name} could not run: {outcome.exception_info}")
            for row in outcome.result.get("unexpected_index_list") or []:
                event_id = str(row["event_id"])
                failed[event_id] = min(rank, failed.get(event_id, rank))
        return {
            event_id: Failure(EXPECTATIONS[rank].name, EXPECTATIONS[rank].reason) for event_id, rank in failed.items()
        }
