"""The pipeline's output (events JSONL, profiles, Kubernetes bundle of the node story in
sample-logs/) is byte for byte the golden files in tests/golden/expected/. A change to it is
made on purpose, by one command: ./dev.sh golden."""

from __future__ import annotations

from pathlib import Path

import pytest

from golden import pipeline


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden")
    pipeline.build(out)
    return out


def test_pipeline_output_is_the_golden_files(built: Path) -> None:
    assert pipeline.EXPECTED.is_dir(), f"no golden files: run {pipeline.REGENERATE}"
    diffs = pipeline.differences(pipeline.EXPECTED, built)
    assert not diffs, (
        "the pipeline's output differs from tests/golden/expected/; if the change is intended, "
        f"regenerate with `{pipeline.REGENERATE}` and commit it:\n" + "\n".join(diffs)
    )


def test_golden_files_hold_every_stage() -> None:
    names = pipeline.files(pipeline.EXPECTED)
    assert "events.jsonl" in names
    assert any(n.startswith("profiles/") for n in names)
    assert "k8s/kustomization.yaml" in names


def test_differences_show_a_readable_diff(tmp_path: Path, built: Path) -> None:
    # the check can fail: one changed rule, one lost and one new file are each named
    changed = tmp_path / "changed"
    for name, data in pipeline.files(built).items():
        (changed / name).parent.mkdir(parents=True, exist_ok=True)
        (changed / name).write_bytes(data)
    profile = next((changed / "profiles").iterdir())
    profile.write_text(profile.read_text().replace(" r,\n", " rw,\n", 1))
    (changed / "k8s" / "kustomization.yaml").unlink()
    (changed / "k8s" / "new.yaml").write_text("x: 1\n")
    diffs = pipeline.differences(built, changed)
    assert diffs[:2] == ["missing: k8s/kustomization.yaml", "extra: k8s/new.yaml"]
    text = "\n".join(diffs[2:])
    assert f"--- expected/profiles/{profile.name}" in text
    assert any(line.startswith("+") and line.endswith(" rw,") for line in text.splitlines())


def test_the_output_does_not_depend_on_the_clone_or_the_clock(built: Path) -> None:
    text = b"".join(pipeline.files(built).values())
    assert str(pipeline.REPO).encode() not in text
    assert str(built).encode() not in text
