"""Images in, top-5 out: every image format and colour mode the issue names, every bad input (each a one-line
ImageError, nothing written anywhere), the checkpoint's preprocessing, feature maps, the CLI and the Predict page
(AppTest, through app.py as the browser would)."""

from __future__ import annotations

import importlib
import io
import json
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import lightnets
from lightnets import weights as lw
from markdown_support import active_syntax, shown

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = lightnets.sample_images()
MAX_IMAGE_BYTES = importlib.import_module("lightnets.prediction").MAX_IMAGE_BYTES
CAT_LABELS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height pixels, with (almost) no pixel data: a decompression bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------------------------------
# formats and colour modes


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF"])
def test_every_format_loads_as_rgb(fmt: str) -> None:
    cat = Image.open(SAMPLES["cat"])
    image = lightnets.load_image(_encode(cat, fmt))
    assert image.mode == "RGB" and image.size == cat.size
    # close to the original pixels (GIF quantises to 256 colours, JPEG/WebP are lossy)
    error = np.abs(np.asarray(image, dtype=float) - np.asarray(cat.convert("RGB"), dtype=float)).mean()
    assert error < 12


def test_paths_and_file_objects(tmp_path: Path) -> None:
    data = SAMPLES["coffee"].read_bytes()
    (tmp_path / "c.jpg").write_bytes(data)
    for source in (SAMPLES["coffee"], str(SAMPLES["coffee"]), io.BytesIO(data), open(tmp_path / "c.jpg", "rb"),
                   bytearray(data), memoryview(data)):
        assert lightnets.load_image(source).size == (600, 400)


def test_gif_uses_the_first_frame() -> None:
    red, blue = Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 0, 255))
    data = _encode(red, "GIF", save_all=True, append_images=[blue], duration=100)
    assert lightnets.load_image(data).getpixel((16, 16)) == (255, 0, 0)


def test_exif_orientation_is_applied() -> None:
    """Orientation 6 (rotate 90° clockwise to display): a landscape image stored sideways comes out portrait,
    its left half on top."""
    stored = Image.new("RGB", (64, 32), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 32, 32))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6
    image = lightnets.load_image(_encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert image.size == (32, 64)
    top, bottom = image.getpixel((16, 8)), image.getpixel((16, 56))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize("mode,color,fmt,expected", [
    ("L", 100, "PNG", (100, 100, 100)),
    ("1", 1, "BMP", (255, 255, 255)),
    ("P", None, "PNG", (0, 128, 0)),
    ("RGBA", (0, 0, 0, 0), "PNG", (255, 255, 255)),  # fully transparent → white
    ("RGBA", (0, 0, 0, 128), "PNG", (127, 127, 127)),  # half transparent black on white
    ("LA", (0, 0), "PNG", (255, 255, 255)),
    ("CMYK", (0, 255, 255, 0), "JPEG", (255, 0, 0)),  # CMYK red
])
def test_colour_modes_become_rgb(mode: str, color, fmt: str, expected: tuple) -> None:
    if mode == "P":
        image = Image.new("RGB", (32, 32), (0, 128, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = Image.new(mode, (32, 32), color)
    loaded = lightnets.load_image(_encode(image, fmt))
    assert loaded.mode == "RGB"
    assert np.allclose(loaded.getpixel((16, 16)), expected, atol=4), loaded.getpixel((16, 16))


def test_palette_transparency_is_white() -> None:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0] * 256)
    data = _encode(image, "GIF", transparency=0)
    assert lightnets.load_image(data).getpixel((5, 5)) == (255, 255, 255)


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    values = np.array([[0, 32768], [65535, 16384]], dtype=np.uint16).repeat(16, 0).repeat(16, 1)
    loaded = lightnets.load_image(_encode(Image.fromarray(values), "PNG"))
    assert [loaded.getpixel(p)[0] for p in ((0, 0), (31, 0), (0, 31), (31, 31))] == [0, 128, 255, 64]


# --------------------------------------------------------------------------------------------------
# bad input: each a one-line ImageError, nothing written anywhere


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[object, str]]:
    cat = SAMPLES["cat"].read_bytes()
    text = tmp_path / "notes.jpg"
    text.write_text("shopping list: eggs, milk\n")
    return {
        "empty": (b"", "empty"),
        "text renamed .jpg": (text, "not a JPEG, PNG, WebP, BMP or GIF image"),
        "truncated JPEG": (cat[: len(cat) // 2], "truncated or damaged"),
        "JPEG header only": (cat[:200], "truncated or damaged|damaged"),
        "1×1 pixel": (_encode(Image.new("RGB", (1, 1)), "PNG"), "only 1×1 pixels, too small"),
        "8×300 strip": (_encode(Image.new("RGB", (8, 300)), "PNG"), "too small"),
        "decompression bomb": (_png_header_only(100_000, 100_000), "too large to decode safely"),
        "60 megapixels": (_png_header_only(10_000, 6_000), "10000×6000 pixels, over the 50-megapixel limit"),
        "over the byte limit": (b"\xff\xd8" + b"\0" * MAX_IMAGE_BYTES, "larger than the 20 MB limit"),
        "no such file": (tmp_path / "missing.png", "no image file at"),
        "a number": (42, "bytes, a path or a file object"),
        "text-mode file": (io.StringIO("abc"), "binary mode"),
        "tiff (not offered)": (_encode(Image.new("RGB", (64, 64)), "TIFF"), "not a JPEG, PNG, WebP, BMP or GIF"),
    }


def test_bad_inputs_are_one_plain_sentence_and_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = _bad_inputs(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.chdir(scratch)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for case, (data, message) in cases.items():
        with pytest.raises(lightnets.ImageError, match=message) as err:
            lightnets.load_image(data)
        text = str(err.value)
        assert "\n" not in text and text.endswith(".") and len(text) < 200, (case, text)
        assert isinstance(err.value, ValueError)
    assert sorted(tmp_path.rglob("*")) == sorted(before + [scratch])  # nothing written, not even a temp file


def test_oversized_file_object_is_not_read_whole() -> None:
    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.served = 0

        def read(self, n: int = -1) -> bytes:
            assert n != -1, "load_image must ask for a bounded amount"
            self.served += n
            return b"\0" * n

    stream = Endless()
    with pytest.raises(lightnets.ImageError, match="larger than"):
        lightnets.load_image(stream)
    assert stream.served <= MAX_IMAGE_BYTES + 1


# --------------------------------------------------------------------------------------------------
# predict


@pytest.fixture(scope="module")
def lite() -> torch.nn.Module:
    return lightnets.pretrained_model(lightnets.config("efficientnet_lite0"))


def test_prediction_fields(lite) -> None:
    result = lightnets.predict(lightnets.config("efficientnet_lite0"), SAMPLES["coffee"])
    probs = [p for _, _, p in result.topk]
    assert len(result.topk) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    assert result.topk[0][:2] == (967, "espresso") and probs[0] > 0.5
    assert all(lightnets.imagenet_labels()[i] == label for i, label, _ in result.topk)
    assert result.input.shape == (1, 3, 224, 224) and result.input.dtype == torch.float32
    assert result.view.size == (224, 224) and result.seconds > 0
    assert result.preprocess.resize == 256 and result.preprocess.interpolation == "bicubic"
    by_module = lightnets.predict(lite, lightnets.load_image(SAMPLES["coffee"]))
    assert [row[:2] for row in by_module.topk] == [row[:2] for row in result.topk]
    assert torch.equal(by_module.input, result.input)


def test_topk_and_resolution_rules(lite) -> None:
    image = lightnets.load_image(SAMPLES["cat"])
    assert len(lightnets.predict(lite, image, topk=1).topk) == 1
    assert len(lightnets.predict(lite, image, topk=20).topk) == 20
    small = lightnets.predict(lite, image, resolution=160)
    assert small.input.shape == (1, 3, 160, 160)
    assert (small.preprocess.resize, small.preprocess.crop) == (183, 160)  # 256/224 kept
    for topk in (0, 1001, "5", 2.5, True):
        with pytest.raises(ValueError, match="topk"):
            lightnets.predict(lite, image, topk=topk)
    for resolution in (8, 5000, 150.5, "224"):
        with pytest.raises(ValueError, match="resolution"):
            lightnets.predict(lite, image, resolution=resolution)
    # knobs travel only inside a Config: a resolution beside one is refused, not silently preferred
    with pytest.raises(ValueError, match="carries its resolution"):
        lightnets.predict(lightnets.config("efficientnet_lite0"), image, resolution=160)
    with pytest.raises(ValueError, match="unknown model"):
        lightnets.predict(lightnets.config("resnet50"), image)
    with pytest.raises(lw.WeightsError, match="No pretrained weights for efficientnet.*upload your own"):
        lightnets.predict(lightnets.config("efficientnet", phi=1), image)


def test_preprocessing_is_resize_then_centre_crop_then_normalise(lite) -> None:
    wide = Image.new("RGB", (300, 100), (255, 0, 0))
    wide.paste((0, 255, 0), (100, 0, 200, 100))
    wide.paste((255, 255, 255), (200, 0, 300, 100))
    result = lightnets.predict(lite, wide)
    view = np.asarray(result.view)
    assert (view[..., 1] > 200).all() and (view[..., 0] < 40).all()  # only the middle (green) third survives
    green = (255 / 255 - 127 / 255) / (128 / 255)
    assert result.input[0, 1].mean().item() == pytest.approx(green, abs=0.02)
    assert result.input[0, 0].mean().item() == pytest.approx((0 - 127 / 255) / (128 / 255), abs=0.02)


def test_non_rgb_pil_images_are_accepted(lite) -> None:
    gray = Image.open(SAMPLES["cat"]).convert("L")
    assert lightnets.predict(lite, gray).input.shape == (1, 3, 224, 224)


def test_feature_maps(lite) -> None:
    layers = dict(lightnets.feature_layers(lite))
    assert "_conv_stem" in layers and "_blocks.15" in layers and "_fc" not in layers and "_avg_pooling" not in layers
    x = lightnets.predict(lite, SAMPLES["cat"]).input
    assert tuple(lightnets.feature_maps(lite, x, "_blocks.4").shape) == (40, 28, 28)
    # the BN output is captured before the in-place ReLU6 that follows it
    assert lightnets.feature_maps(lite, x, "_bn0").min() < 0
    with pytest.raises(ValueError, match="not a layer"):
        lightnets.feature_maps(lite, x, "_blocks.99")
    with pytest.raises(ValueError, match="feature map"):
        lightnets.feature_maps(lite, x, "_fc")


def test_feature_grid_figure(lite) -> None:
    from lightnets.figures import predict as figures

    maps = torch.arange(6 * 4 * 5, dtype=torch.float32).view(6, 4, 5)
    fig = figures.feature_grid(maps, "layer", channels=4)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * 4 + 1, 2 * 5 + 1)  # 2×2 grid with a one-pixel gap
    assert np.isnan(z[4]).all() and np.nanmin(z) == 0 and np.nanmax(z) == 1


def test_topk_and_input_figures() -> None:
    from lightnets.figures import predict as figures

    result = lightnets.predict(lightnets.config("efficientnet_lite0"), SAMPLES["cat"])
    bars = figures.topk_bars(result)
    assert list(bars.data[0].y)[::-1] == [label for _, label, _ in result.topk]
    assert list(bars.data[0].x)[::-1] == pytest.approx([100 * p for _, _, p in result.topk])
    image = figures.model_input(result)
    assert np.asarray(image.data[0].z).shape == (224, 224, 3)


# --------------------------------------------------------------------------------------------------
# CLI


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lightnets", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_prints_the_top5() -> None:
    done = _cli("predict", str(SAMPLES["cat"]), "--model", "efficientnet_lite0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("efficientnet_lite0 on ") and len(lines) == 6
    assert all("%" in line for line in lines[1:])
    assert CAT_LABELS & {line.split("%", 1)[1].strip().rsplit(" (", 1)[0] for line in lines[1:]}


def test_cli_json_and_bad_input(tmp_path: Path) -> None:
    done = _cli("predict", str(SAMPLES["coffee"]), "--topk", "3", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [row["label"] for row in out["topk"]][0] == "espresso" and len(out["topk"]) == 3
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(SAMPLES["cat"].read_bytes()[:3000])
    for args, message in (((str(broken),), "truncated or damaged"), ((str(tmp_path / "none.png"),), "no image file"),
                          ((str(SAMPLES["cat"]), "--topk", "0"), "topk"),
                          ((str(SAMPLES["cat"]), "--model", "efficientnet", "--phi", "2"), "No pretrained weights")):
        done = _cli("predict", *args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("error: ") and message in done.stderr and done.stderr.count("\n") == 1


# --------------------------------------------------------------------------------------------------
# the Predict page (AppTest: no browser)


def test_upload_limits_are_consistent() -> None:
    text = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "[server]" in text
    limit = int(re.search(r"^maxUploadSize\s*=\s*(\d+)\s*$", text, re.M).group(1))  # MiB, as Streamlit reads it
    assert limit * 2**20 == lw.MAX_CHECKPOINT_BYTES >= MAX_IMAGE_BYTES


@pytest.fixture
def page_app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _topk_labels(at) -> list[str]:
    figure = json.loads(at.get("plotly_chart")[1].proto.spec)
    return figure["data"][0]["y"][::-1]


def test_page_predicts_a_sample_photo(page_app) -> None:
    at = page_app
    assert at.title[0].value == "Predict"
    assert not at.error
    assert CAT_LABELS & set(_topk_labels(at))
    assert at.metric[0].value.endswith(" ms")
    assert at.selectbox(key="predict.model").value.startswith("EfficientNet-Lite0")
    assert len(at.get("plotly_chart")) == 3  # input, top-5, feature maps
    # the browser refuses nothing itself (a refusal there never reaches the page): any file up to the server's
    # limit is uploaded and judged by lightnets, which refuses images over MAX_IMAGE_BYTES
    for uploader in at.get("file_uploader"):
        assert not list(uploader.proto.type)
        assert uploader.proto.max_upload_size_mb * 2**20 == lw.MAX_CHECKPOINT_BYTES >= MAX_IMAGE_BYTES
    at.selectbox(key="predict.sample").set_value("coffee").run()
    assert _topk_labels(at)[0] == "espresso"


def test_page_upload_errors_then_a_good_photo(page_app, tmp_path: Path) -> None:
    at = page_app
    for case, (data, message) in _bad_inputs(tmp_path).items():
        if not isinstance(data, (bytes, bytearray)) or case == "over the byte limit":
            continue  # the page hands uploads over as file objects of bytes; paths and types are CLI/API matters
        at.get("file_uploader")[0].set_value((f"{case}.jpg", bytes(data), "image/jpeg"))  # fresh element each run
        at.run()
        assert not at.exception, (case, [e.value for e in at.exception])
        errors = [shown(e.value) for e in at.error]
        assert len(errors) == 1 and "\n" not in errors[0], (case, errors)
        assert re.search(message, errors[0]), (case, errors)
        assert not at.get("plotly_chart")
    at.get("file_uploader")[0].set_value(("coffee.jpg", SAMPLES["coffee"].read_bytes(), "image/jpeg"))
    at.run()
    assert not at.error and _topk_labels(at)[0] == "espresso"


def test_a_refused_upload_clears_the_previous_prediction_and_says_why_in_the_page(page_app) -> None:
    at = page_app
    at.get("file_uploader")[0].set_value(("coffee.jpg", SAMPLES["coffee"].read_bytes(), "image/jpeg"))
    at.run()
    assert _topk_labels(at)[0] == "espresso"
    refusals = {
        "notes.txt": (b"just some text, not a photo", r"^notes\.txt: The file is not a .* image"),
        "huge.png": (b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES), r"^huge\.png: The image file is larger than the 20 MB"),
        "[click](http://evil.example/)" + "x" * 200 + ".jpg": (b"\xff\xd8\xff broken", r"^\[click\]\(http://evil"),
    }
    for name, (data, message) in refusals.items():
        at.get("file_uploader")[0].set_value((name, data, "application/octet-stream"))
        at.run()
        assert not at.exception, (name, [e.value for e in at.exception])
        errors = [e for e in at.error]
        assert len(errors) == 1, (name, [e.value for e in errors])
        assert re.search(message, shown(errors[0].value)), (name, shown(errors[0].value))
        assert active_syntax(errors[0].value) == [] and len(shown(errors[0].value)) < 200
        assert not at.get("plotly_chart")  # the previous photo's prediction is gone, not shown as this file's
        assert not at.metric


def test_page_uses_the_users_checkpoint(page_app) -> None:
    at = page_app
    assert at.session_state["ui.model"] == "mobilenet_v2"  # the sidebar's default architecture
    torch.manual_seed(0)
    model = lightnets.build(lightnets.config("mobilenet_v2"))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    at.get("file_uploader")[1].set_value(("mine.pth", b"not a checkpoint", "application/octet-stream"))
    at.run()
    assert [shown(e.value) for e in at.error] == ["mine.pth: The file is not a PyTorch checkpoint that can be read (expected a .pth "
                                           "or .pt file saved with torch.save)."]
    at.get("file_uploader")[1].set_value(("mine.pth", buffer.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="predict.model").value.endswith("your checkpoint")
    assert any("Weights: your checkpoint" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 3


def test_page_follows_the_sidebars_model_and_rho(page_app) -> None:
    at = page_app
    at.selectbox(key="ui.model").set_value("efficientnet_lite0").run()
    at.select_slider(key="ui.rho").set_value(40).run()  # ρ = 40/28: 320 px
    assert not at.exception and not at.error
    assert at.selectbox(key="predict.model").value.startswith("EfficientNet-Lite0")
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "320×320 px" in figure["layout"]["title"]["text"]
    assert CAT_LABELS & set(_topk_labels(at))
