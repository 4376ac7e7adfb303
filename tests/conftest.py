import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

# Model forwards are slow on 2 cores: no deadline; a small example budget by default, more with HYPOTHESIS_PROFILE=long.
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT

# App test fixtures shared by every module: app_url, browser, page (browser tests) and the autouse
# apptest_runs_app_py (AppTest); see browser_support.py.
from browser_support import apptest_runs_app_py, app_url, browser, page  # noqa: E402,F401
