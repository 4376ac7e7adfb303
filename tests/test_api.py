"""The public API: every exported name resolves, and importing any submodule leaves the names as promised."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import lightnets


def test_every_exported_name_resolves_after_importing_every_submodule() -> None:
    for info in pkgutil.walk_packages(lightnets.__path__, prefix="lightnets."):
        if info.name != "lightnets.__main__":
            importlib.import_module(info.name)
    for name in lightnets.__all__:
        value = getattr(lightnets, name)
        # a submodule named like a public function would shadow it once imported
        assert not inspect.ismodule(value), f"lightnets.{name} is a module, not the promised object"
    assert callable(lightnets.predict) and callable(lightnets.profile) and callable(lightnets.build)


def test_package_never_imports_streamlit() -> None:
    import subprocess
    import sys

    code = ("import sys, pkgutil, importlib, lightnets\n"
            "for i in pkgutil.walk_packages(lightnets.__path__, prefix='lightnets.'):\n"
            "    importlib.import_module(i.name) if i.name != 'lightnets.__main__' else None\n"
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
