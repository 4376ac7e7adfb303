"""The app's shared Streamlit parts, by concern: ``state`` (the sidebar's selection and the URL), ``navigation``
(the one page table, which Home reads too), ``widgets`` (one-line errors, lazy widgets, charts) and ``measure``
(cached sweeps and measured latency). Pages import what they need from here.

Importing ``ui`` does not import torch: app.py draws the page's title and explanation before torch is loaded.
"""

from ui.measure import (
                        cached_knob_sweep,
                        cached_rho_sweep,
                        latency_report,
                        measure_latency,
                        measure_sweep,
                        measured_latency,
                        rho_sweep_values,
                        sweep_latency,
)
from ui.navigation import ICON, PAGES, PageInfo, lead, navigation_pages, page_config, page_info, selection_first
from ui.present import figure_scale, presenting, start_presentation
from ui.state import (
                        RHO_DENOMINATOR,
                        RHO_STEPS,
                        Selection,
                        begin_run,
                        default_model,
                        end_run,
                        ensure_app,
                        knob_key,
                        rho_of,
                        sidebar,
                        start_language,
)
from ui.widgets import (attempt, chart, current_profile, error, guard, html, intro, kept, pin, plain, remember,
                        restore, warmup, warning)

__all__ = [
    "ICON", "PAGES", "RHO_DENOMINATOR", "RHO_STEPS", "PageInfo", "Selection", "attempt", "begin_run",
    "cached_knob_sweep", "cached_rho_sweep", "chart", "current_profile", "default_model", "end_run", "ensure_app",
    "error", "figure_scale", "guard", "html", "intro", "kept", "knob_key", "latency_report", "lead",
    "measure_latency", "measure_sweep", "measured_latency", "navigation_pages", "page_config", "page_info", "pin",
    "plain", "presenting", "remember", "restore", "rho_of", "rho_sweep_values", "selection_first", "sidebar",
    "start_language", "start_presentation", "sweep_latency", "warmup", "warning",
]
