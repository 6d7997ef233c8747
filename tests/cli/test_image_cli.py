"""One image for every DaemonSet aaprof writes: `aaprof generate`'s loader and `aaprof watch
--manifests` name the same default (aaprof.k8s.image.DEFAULT_IMAGE) and take `--image`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from aaprof import __version__
from aaprof.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
LOGS = str(REPO / "sample-logs" / "node-a")


def images(directory: Path) -> list[str]:
    """The images of every DaemonSet container in the YAML files under `directory`."""
    found = []
    for path in sorted(directory.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "DaemonSet":
                found += [c["image"] for c in doc["spec"]["template"]["spec"]["containers"]]
    return found


def write_both(tmp_path: Path, *extra: str) -> tuple[list[str], list[str]]:
    runner = CliRunner()
    made = runner.invoke(cli, ["generate", LOGS, "--out", str(tmp_path / "gen"), "-q", *extra])
    assert made.exit_code == 0, made.output
    watch = runner.invoke(cli, ["watch", "--manifests", str(tmp_path / "watch"), *extra])
    assert watch.exit_code == 0, watch.output
    return images(tmp_path / "gen" / "k8s"), images(tmp_path / "watch")


def test_the_loader_and_watch_name_one_image_by_default(tmp_path: Path) -> None:
    loader, watch = write_both(tmp_path)
    assert loader == watch == [f"localhost/aaprof:{__version__}"]


def test_image_names_another_on_both(tmp_path: Path) -> None:
    loader, watch = write_both(tmp_path, "--image", "registry.example/aaprof:7")
    assert loader == watch == ["registry.example/aaprof:7"]


@pytest.mark.parametrize("command", ["generate", "watch"])
def test_a_bad_image_is_refused_before_anything_is_written(tmp_path: Path, command: str) -> None:
    out = tmp_path / "out"
    args = (
        ["generate", LOGS, "--out", str(out)]
        if command == "generate"
        else ["watch", "--manifests", str(out)]
    )
    result = CliRunner().invoke(cli, [*args, "--image", "evil\n  hostPID: true"])
    assert result.exit_code == 2
    assert "--image" in result.output and "not an image reference" in result.output
    assert not out.exists()
