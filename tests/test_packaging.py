"""The pinned environment stays consistent across requirements.txt, environment.yml and the lock."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", text, re.M)}


def test_requirements_are_exact_pins_mirrored_in_environment_yml():
    req = _pins((ROOT / "requirements.txt").read_text())
    env = _pins((ROOT / "environment.yml").read_text())
    assert req["torch"] == "2.13.0"
    for name in ["jupyterlab", "ipywidgets", "matplotlib", "einops", "numpy", "jupytext", "nbval", "pytest"]:
        assert name in req, f"{name} is not pinned"
    assert req == env


def test_lock_agrees_with_the_pins():
    req = _pins((ROOT / "requirements.txt").read_text())
    lock = _pins((ROOT / "constraints.txt").read_text())
    for name, version in req.items():
        assert lock.get(name) == version, f"constraints.txt has {name}=={lock.get(name)}, requirements {version}"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    req = _pins((ROOT / "requirements.txt").read_text())
    for name, pinned in req.items():
        installed = version(name).split("+")[0]  # torch's "+cpu" local label
        assert installed == pinned, f"{name}: installed {installed}, pinned {pinned}"


def test_no_agg_backend_forced_for_notebooks():
    for path in list((ROOT / "tinyvdm").rglob("*.py")) + [ROOT / "Makefile", ROOT / "conftest.py"]:
        assert not re.search(r"MPLBACKEND\s*=\s*['\"]?Agg", path.read_text()), path
