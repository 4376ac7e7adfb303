"""Running inside a server that many sessions share: the warm-up at server start, and a cache that computes each
key once however many threads ask for it at the same moment.

Streamlit runs every browser session's script in a thread of one process. Whatever a library imports or fills
lazily on first use can then be caught half-done by a second session: plotly looks pandas up in ``sys.modules``
without importing it (``_plotly_utils.optional_imports.get_module(..., should_load=False)``), so while one session
is importing pandas another finds the half-initialised module and fails with ``AttributeError: partially
initialized module 'pandas' has no attribute 'Series'``. ``warmup()`` does all of that once, before the first
session draws anything that needs it; later calls return at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_WARM_LOCK = threading.Lock()
_warm_seconds: float | None = None  # how long the warm-up took, once it has run

# modules imported lazily by the libraries we use, which sessions would otherwise race on
OPTIONAL_MODULES = ("numpy", "pandas", "pyarrow", "PIL.Image", "plotly.graph_objects", "plotly.io",
                    "plotly.subplots", "torchinfo")


def warmed() -> bool:
    """Whether ``warmup()`` has run in this process."""
    return _warm_seconds is not None


def warmup() -> float:
    """Import and initialise, once per process, everything sessions would race on at first use; return the
    seconds the warm-up took (0 on later calls). Thread-safe: callers arriving while it runs wait for it.

    What it does: imports torch, numpy, pandas and plotly fully (plotly's optional pandas lookups see a finished
    module from then on); builds and serialises one plotly figure of each kind of data we draw (numpy arrays,
    plain lists); discovers the model and experiment registries; runs torch's first operators (a conv, BatchNorm
    and pooling in inference mode on the CPU, and on the meta device); profiles, graphs and traces (torch.fx)
    the default configuration; loads the translation catalogs and the ImageNet labels.
    """
    global _warm_seconds
    if _warm_seconds is not None:
        return 0.0
    with _WARM_LOCK:
        if _warm_seconds is not None:
            return 0.0
        start = time.perf_counter()
        _limit_malloc_arenas()
        _warm()
        _start_trimmer()
        _warm_seconds = time.perf_counter() - start
        return _warm_seconds


# Memory that sessions freed should go back to the system when they leave. glibc's malloc gives each thread that
# meets contention an arena of its own (up to 8 per core) and keeps freed memory in them: a server that had 30
# session threads kept their peak for good. Two arenas are plenty for a process whose heavy work is in torch's
# own allocator, and a trim every ``TRIM_PERIOD_S`` hands free pages back.
ARENAS = 2
TRIM_PERIOD_S = 20.0
_M_ARENA_MAX = -8  # mallopt parameter number, glibc's malloc.h


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
        libc.mallopt  # noqa: B018
        return libc
    except (OSError, AttributeError):
        return None


def _limit_malloc_arenas() -> None:
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, ARENAS)


def trim_memory() -> bool:
    """Hand freed heap memory back to the system (glibc's ``malloc_trim``); False where there is no glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def _start_trimmer() -> None:
    if _libc() is None:
        return

    def run() -> None:
        while True:
            time.sleep(TRIM_PERIOD_S)
            trim_memory()

    threading.Thread(target=run, name="lightnets-malloc-trim", daemon=True).start()


def _warm() -> None:
    for name in OPTIONAL_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # optional for plotly: then it never looks for it
            pass
    import numpy as np
    import plotly.graph_objects as go
    import torch
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2)
    fig.add_trace(go.Scatter(x=np.arange(3), y=np.arange(3.0), customdata=np.zeros((3, 2)), ids=["a", "b", "c"]),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=["a", "b"], y=[1, 2], text=["1", "2"]), row=1, col=2)
    fig.add_trace(go.Heatmap(z=np.eye(2)), row=1, col=2)
    fig.update_layout(sliders=[{"steps": [{"label": "0"}]}])
    fig.frames = [go.Frame(name="0", data=[go.Scatter(x=[0], y=[0])])]
    fig.to_json()

    with torch.inference_mode():
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                  torch.nn.Conv2d(4, 4, 3, padding=1, groups=4), torch.nn.Hardswish(),
                                  torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        net(torch.randn(1, 3, 8, 8))
        net(torch.randn(1, 3, 8, 8).contiguous(memory_format=torch.channels_last))
        torch.softmax(torch.randn(1, 5), dim=1).topk(2)
        torch.empty(1, 3, 8, 8, device="meta").sum()

    from lightnets import concepts, experiments, graph, i18n, prediction, registry
    from lightnets.cost import profile
    from lightnets.figures import cost, experiments as experiment_figures, latency, predict, shuffle  # noqa: F401

    names = registry.list_models()
    experiments.list_experiments()
    for code in i18n.LANGUAGES:
        i18n._catalog(code)
    prediction.imagenet_labels()
    default = registry.config("mobilenet_v2" if "mobilenet_v2" in names else names[0])
    profile(default)
    graph.block_graph(default)
    choices = graph.block_choices(default)
    if choices:
        graph.block_inner_graph(default, choices[-1][0])  # an fx trace
    concepts.concepts(default)


def shared_cache(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Like ``functools.lru_cache(maxsize)``, but a key that several threads ask for at once is computed once:
    the others wait for that result instead of each building their own copy (eight sessions opening the same
    model at once would otherwise hold eight copies of its weights, and spend eight times the CPU).

    Different keys are computed in parallel. An exception is not cached: the next caller tries again.
    """
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        lock = threading.Lock()  # guards ``done`` and ``pending``, never held while computing
        done: OrderedDict[Hashable, T] = OrderedDict()
        pending: dict[Hashable, threading.Lock] = {}

        @functools.wraps(fn)
        def wrapper(*args: Any) -> T:
            key = args
            with lock:
                if key in done:
                    done.move_to_end(key)
                    return done[key]
                key_lock = pending.setdefault(key, threading.Lock())
            with key_lock:
                with lock:
                    if key in done:
                        return done[key]
                try:
                    value = fn(*args)
                except BaseException:
                    with lock:
                        if pending.get(key) is key_lock:
                            del pending[key]
                    raise
                with lock:  # one step: a caller arriving now finds the value, never an empty slot
                    done[key] = value
                    if pending.get(key) is key_lock:
                        del pending[key]
                    while len(done) > maxsize:
                        done.popitem(last=False)
                return value

        def cache_clear() -> None:
            with lock:
                done.clear()

        wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
        wrapper.cache_len = lambda: len(done)  # type: ignore[attr-defined]
        return wrapper
    return decorate
