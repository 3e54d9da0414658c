"""The JupyterLab settings `make lab` installs name real settings of the pinned JupyterLab."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"


def _schema(plugin_id: str) -> dict:
    package, plugin = plugin_id.split(":")
    return json.loads((SCHEMAS / package / f"{plugin}.json").read_text())


def test_every_override_is_a_setting_of_the_installed_jupyterlab():
    overrides = json.loads((ROOT / "tools" / "jupyterlab-overrides.json").read_text())
    for plugin_id, settings in overrides.items():
        properties = _schema(plugin_id)["properties"]
        for key in settings:
            assert key in properties, f"{plugin_id} has no setting {key!r}"


def test_chapters_open_as_notebooks_with_the_kernel_started_and_no_news():
    overrides = json.loads((ROOT / "tools" / "jupyterlab-overrides.json").read_text())
    assert overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["python"] == "Jupytext Notebook"
    assert overrides["@jupyterlab/notebook-extension:tracker"]["autoStartDefaultKernel"] is True
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    # the viewer name is the one jupytext's JupyterLab extension registers
    extension = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-jupytext"
    assert any('"Jupytext Notebook"' in p.read_text(errors="ignore") for p in extension.rglob("*.js"))


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
