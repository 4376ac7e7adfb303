"""Images in, ImageNet top-k out: safe image loading, the checkpoint's preprocessing, timing, feature maps.

``load_image`` never writes anything and never lets a PIL exception through: every bad file becomes an
``ImageError`` (a ``ValueError``) whose message is one plain sentence, ready for ``st.error`` or the CLI.
"""

from __future__ import annotations

import functools
import io
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import nn

from lightnets.registry import DATA_DIR, IMAGENET_PREPROCESS, MAX_RESOLUTION, Config, Network, Preprocess
from lightnets.runtime import shared_cache
from lightnets.uploads import read_limited

MAX_IMAGE_BYTES = 20 * 2**20  # Streamlit's uploader for images is set to the same 20 MB
MAX_IMAGE_PIXELS = 50_000_000  # a 50-megapixel photo decodes to 150 MB; anything bigger is refused before decoding
MIN_IMAGE_SIDE = 16  # below this there is nothing left to classify
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")  # JPEG's plugin also opens MPO, the multi-picture JPEG of cameras
FORMAT_NAMES = "JPEG, PNG, WebP, BMP or GIF"
SAMPLES_DIR = DATA_DIR / "samples"

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
             "nearest": Image.Resampling.NEAREST}


class ImageError(ValueError):
    """An image that cannot be used; the message is one plain sentence."""


# --------------------------------------------------------------------------------------------------
# loading


def load_image(data: bytes | str | os.PathLike[str] | BinaryIO) -> Image.Image:
    """An RGB ``PIL.Image`` from bytes, a path or a file object (JPEG, PNG, WebP, BMP, GIF's first frame).

    EXIF orientation is applied; grayscale, palette, CMYK and 16-bit images are converted to RGB, and
    transparent ones composited on white. Raises ``ImageError`` for an empty, oversized, unreadable,
    truncated, too small or too large (decompression bomb) image.
    """
    raw = read_limited(data, MAX_IMAGE_BYTES, "image", ImageError)
    with warnings.catch_warnings():
        # PIL warns (not raises) between its own pixel limit and twice that; treat both as refusals.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
        except UnidentifiedImageError:
            raise ImageError(f"The file is not a {FORMAT_NAMES} image that can be read.") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(f"The image is too large to decode safely (over {MAX_IMAGE_PIXELS // 10**6} "
                             "megapixels).") from None
        except Exception:  # noqa: BLE001 - decoders raise many types (struct.error, KeyError…) on crafted files
            raise ImageError(f"The file is damaged and cannot be read as a {FORMAT_NAMES} image.") from None
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageError(f"The image is {width}×{height} pixels, over the {MAX_IMAGE_PIXELS // 10**6}-megapixel "
                             "limit (it could exhaust the server's memory).")
        if min(width, height) < MIN_IMAGE_SIDE:
            raise ImageError(f"The image is only {width}×{height} pixels, too small to classify (at least "
                             f"{MIN_IMAGE_SIDE} pixels on each side are needed).")
        try:
            image.seek(0)  # GIF/WebP animations: the first frame
            image.load()
        except MemoryError:
            raise ImageError("The image is too large to decode on this server.") from None
        except Exception:  # noqa: BLE001 - as above: any decoder failure is a damaged file, never a crash
            raise ImageError("The image data is truncated or damaged and cannot be decoded.") from None
        try:
            return _to_rgb(_upright(image))
        except Exception:  # noqa: BLE001 - a colour mode PIL cannot convert, from a crafted file
            raise ImageError(f"The image's colour format ({image.mode}) cannot be converted to RGB.") from None


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag (phones store portrait photos sideways and say so in EXIF)."""
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):  # a broken EXIF block: keep the pixels as stored
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit and float grayscale: PIL's convert("L") clips instead of scaling, so scale to 0..255 here.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        if mode == "F":
            top = max(float(values.max()), 1e-12) if values.max() > 1 else 1.0
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode != "RGB":
        return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return image.copy()  # detach from the decoder and its buffer


def sample_images() -> dict[str, Path]:
    """The sample photos that ship with the project, by name (see data/samples/README.md)."""
    return {p.stem: p for p in sorted(SAMPLES_DIR.glob("*.jpg"))}


@functools.cache
def imagenet_labels() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, in class-index order."""
    labels = tuple((DATA_DIR / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines())
    if len(labels) != 1000:
        raise RuntimeError(f"lightnets/data/imagenet_classes.txt lists {len(labels)} classes, not 1000")
    return labels


# --------------------------------------------------------------------------------------------------
# preprocessing


def preprocess_for(model: nn.Module, resolution: int | None = None) -> tuple[Preprocess, int]:
    """The input recipe of ``model``'s weights, scaled to ``resolution`` (default: the model's own size)."""
    base = getattr(model, "preprocess", None)
    config = getattr(model, "config", None)
    model_spec = config.spec if isinstance(config, Config) else None
    if base is None:
        base = model_spec.preprocess if model_spec is not None else IMAGENET_PREPROCESS
    if resolution is None:
        resolution = config.own_resolution if isinstance(config, Config) else base.crop
    low = model_spec.min_resolution if model_spec is not None else 32
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not (
            low <= resolution <= MAX_RESOLUTION):
        raise ValueError(f"resolution={resolution!r} is not allowed: it must be a whole number of pixels from "
                         f"{low} to {MAX_RESOLUTION}")
    resolution = int(resolution)
    # keep the checkpoint's resize/crop ratio (256/224 for most) at any resolution
    resize = int(round(resolution * base.resize / base.crop))
    return Preprocess(resize, resolution, base.mean, base.std, base.interpolation), resolution


def prepare(image: Image.Image, pre: Preprocess) -> tuple[Image.Image, torch.Tensor]:
    """Resize the shorter side to ``pre.resize``, take the central ``pre.crop`` square, normalise.

    Returns the crop as the model sees it (before normalisation) and the 1×3×H×W input tensor. The crop box
    is mapped back onto the original image and resampled in one step (PIL's ``box``), which equals resizing
    the whole image first but never allocates the full resized image of a long panorama.
    """
    width, height = image.size
    scale = pre.resize / min(width, height)
    new_w, new_h = width * scale, height * scale
    left, top = round((new_w - pre.crop) / 2), round((new_h - pre.crop) / 2)
    box = (left / scale, top / scale, (left + pre.crop) / scale, (top + pre.crop) / scale)
    view = image.resize((pre.crop, pre.crop), _RESAMPLE[pre.interpolation], box=box)
    array = np.asarray(view, dtype=np.float32) / 255.0
    mean = np.asarray(pre.mean, dtype=np.float32)
    std = np.asarray(pre.std, dtype=np.float32)
    tensor = torch.from_numpy(((array - mean) / std).transpose(2, 0, 1).copy()).unsqueeze(0)
    return view, tensor


# --------------------------------------------------------------------------------------------------
# prediction


@dataclass(frozen=True)
class Prediction:
    """Top-k classes of one image, the input tensor the model saw, and how long the forward pass took."""

    topk: list[tuple[int, str, float]]  # (class index, label, probability), most probable first
    input: torch.Tensor  # 1×3×H×W, normalised
    seconds: float  # one forward pass, batch 1, on this machine's CPU
    view: Image.Image  # the resized and cropped image, before normalisation
    preprocess: Preprocess
    model: str = ""
    weights: str = ""


@shared_cache(maxsize=4)  # eight sessions asking for the same weights at once load them once
def _published(architecture: Config) -> nn.Module:
    from lightnets.weights import load_weights

    return load_weights(architecture)


def pretrained_model(config: Config) -> nn.Module:
    """``load_weights(config)``, kept in memory for the next call (a few models at most)."""
    return _published(config.architecture)


def predict(target: Config | nn.Module, image: Image.Image | bytes | str | os.PathLike[str] | BinaryIO,
            topk: int = 5, resolution: int | None = None) -> Prediction:
    """Classify ``image`` with a configuration (its published weights, at its resolution) or an ``nn.Module``
    (at ``resolution``, default the model's own input size).

    Sizes other than the weights' own keep the checkpoint's resize/crop ratio. Raises ``ValueError``
    (``ImageError``, ``WeightsError``) with a one-line message.
    """
    if isinstance(target, Config):
        if resolution is not None:
            raise ValueError("a configuration carries its resolution: use config.replace(resolution=…)")
        model, resolution = pretrained_model(target), target.resolution
    elif isinstance(target, nn.Module):
        model = target
    else:
        raise ValueError(f"predict needs a lightnets.config(...) or an nn.Module, not {type(target).__name__}")
    if not isinstance(image, Image.Image):
        image = load_image(image)
    elif image.mode != "RGB":
        image = _to_rgb(image)
    pre, _ = preprocess_for(model, resolution)
    view, x = prepare(image, pre)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            if getattr(model, "_lightnets_warm", None) != tuple(x.shape):
                # The first pass at a new input size pays one-off costs (allocator, kernel selection) that would
                # otherwise be reported as the model's speed.
                model(x)
                model._lightnets_warm = tuple(x.shape)  # type: ignore[assignment]
            start = time.perf_counter()
            logits = model(x)
            seconds = time.perf_counter() - start
    finally:
        model.train(was_training)
    probs = torch.softmax(logits[0].float(), dim=0)
    if isinstance(topk, bool) or not isinstance(topk, int) or not 1 <= topk <= probs.numel():
        raise ValueError(f"topk={topk!r} is not allowed: it must be a whole number from 1 to {probs.numel()}")
    values, indices = probs.topk(topk)
    labels = imagenet_labels() if probs.numel() == 1000 else tuple(f"class {i}" for i in range(probs.numel()))
    rows = [(int(i), labels[int(i)], float(p)) for p, i in zip(values, indices)]
    return Prediction(topk=rows, input=x, seconds=seconds, view=view, preprocess=pre,
                      model=str(getattr(model, "name", type(model).__name__)),
                      weights=str(getattr(model, "weights", "")))


# --------------------------------------------------------------------------------------------------
# feature maps


def feature_layers(model: nn.Module) -> list[tuple[str, str]]:
    """(path, label) of the blocks whose output is a feature map, in forward order."""
    if isinstance(model, Network):
        rows = [(b.path, b.label) for b in model.block_rows]
    else:
        rows = [(name, type(child).__name__) for name, child in model.named_children()]
    shapes = _output_shapes(model, [path for path, _ in rows])
    return [(path, label) for path, label in rows if len(shapes.get(path, ())) == 4]


def _output_shapes(model: nn.Module, paths: list[str]) -> dict[str, tuple[int, ...]]:
    from lightnets.cost import profile

    config = getattr(model, "config", None)
    if isinstance(config, Config):
        return {b.path: tuple(b.output_shape) for b in profile(config).blocks}
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [model.get_submodule(path).register_forward_hook(
        lambda m, a, out, path=path: shapes.setdefault(path, tuple(out.shape))) for path in paths]
    try:
        with torch.device("meta"), torch.no_grad():
            torch.func.functional_call(model, {k: torch.empty_like(v, device="meta")
                                               for k, v in model.state_dict().items()},
                                       (torch.empty(1, 3, 224, 224, device="meta"),))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def feature_maps(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The C×H×W output of block ``layer`` (a path from ``feature_layers``) for input ``x`` (1×3×H×W)."""
    try:
        module = model.get_submodule(layer)
    except AttributeError:
        raise ValueError(f"{layer!r} is not a layer of this model") from None
    captured: list[torch.Tensor] = []
    caller = threading.get_ident()

    def keep(module: nn.Module, args: Any, out: torch.Tensor) -> None:
        # Only this call's forward: the app shares one model between sessions, each in its own thread.
        # clone: an in-place activation after this block would otherwise change the captured tensor.
        if threading.get_ident() == caller and not captured:
            captured.append(out.detach().clone())

    handle = module.register_forward_hook(keep)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model(x)
    finally:
        handle.remove()
        model.train(was_training)
    if not captured or captured[0].dim() != 4:
        raise ValueError(f"layer {layer!r} does not output a feature map")
    return captured[0][0]
