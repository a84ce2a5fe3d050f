"""What every chart shares: colour-blind-safe colours, readable text, and no toolbar.

Okabe-Ito colours stay distinguishable with the common colour-vision deficiencies. Their sky blue and
orange are lighter than 3:1 against white (WCAG 1.4.11), so darker shades of the two stand in for them,
last in the series; every colour here is at least 3:1 against white (tests/dashboard/test_formatting.py checks).
Sequential scales (the heatmap) use cividis, designed to read the same to people with and without
colour-vision deficiency. No chart relies on colour alone: each has a
table beside it with the same figures.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

TEXT = "#0b0c0c"
GRID = "#b1b4b6"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
GREEN = "#009E73"
PURPLE = "#CC79A7"
ORANGE = "#B36B00"  # Okabe-Ito orange #E69F00, darkened to 4.2:1
SKY = "#2B83BA"  # Okabe-Ito sky blue #56B4E9, darkened to 4.2:1
GREY = "#505a5f"

SERIES = (BLUE, VERMILLION, GREEN, PURPLE, GREY, ORANGE, SKY)
STATUS_COLOURS = {"proposed": GREY, "agreed": BLUE, "implemented": GREEN, "declined": VERMILLION}
LEVEL_COLOURS = {"consultation": VERMILLION, "co_production": BLUE, "user_led": GREEN}
SEQUENTIAL = "cividis"

CONFIG: Any = {"displayModeBar": False, "responsive": True}  # Graph's `config`


def layout(*, height: int = 420, legend: bool = True) -> dict[str, Any]:
    """The dashboard's look as a plain layout: white, 14 px dark text, legend above the plot."""
    return {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 48, "b": 48},
        "font": {"color": TEXT, "size": 14, "family": "system-ui, Arial, sans-serif"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "showlegend": legend,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    }


def styled(figure: go.Figure, *, height: int = 420, legend: bool = True) -> go.Figure:
    """The figure in the dashboard's look, with a light grid."""
    # one update of the layout (single-axis figures): update_xaxes and update_yaxes each walk and validate
    # the figure again, and cost more than a page's queries
    axes = {"yaxis": {"gridcolor": GRID, "zerolinecolor": GRID}, "xaxis": {"linecolor": TEXT}}
    figure.update_layout(**layout(height=height, legend=legend), **axes)
    return figure
