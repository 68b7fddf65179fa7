"""`ampere ingest serve | video` and `ampere schema export`: help renders, bad input is refused before any I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tooling.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args", [["ingest", "serve"], ["ingest", "video"], ["schema", "export"]], ids=" ".join)
def test_help_renders(args: list[str]) -> None:
    res = runner.invoke(app, [*args, "--help"])
    assert res.exit_code == 0, res.output


def test_serve_refuses_to_listen_beyond_loopback_without_a_key(monkeypatch) -> None:
    from streams.settings import get_settings

    monkeypatch.delenv("AMPERE_INGEST_API_KEY", raising=False)
    get_settings.cache_clear()
    try:
        res = runner.invoke(app, ["ingest", "serve", "--host", "0.0.0.0"])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 2 and "loopback" in res.output


def test_video_refuses_bad_mode_bad_transcript_and_undecodable_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    assert runner.invoke(app, ["ingest", "video", str(junk), "--mode", "sometimes"]).exit_code == 2
    bad_srt = tmp_path / "bad.srt"
    bad_srt.write_text("1\n00:00:05,000 --> 00:00:01,000\nbackwards\n")
    res = runner.invoke(app, ["ingest", "video", str(junk), "--transcript", str(bad_srt)])
    assert res.exit_code == 2 and "ends before it starts" in res.output
    res = runner.invoke(app, ["ingest", "video", str(junk)])
    assert res.exit_code == 1 and "cannot decode junk.mp4" in res.output


def test_video_refuses_a_still_image_with_a_usage_error(tmp_path: Path) -> None:
    """A still JPEG was accepted as a one-frame video."""
    from PIL import Image

    still = tmp_path / "product.jpg"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(still, "JPEG")
    res = runner.invoke(app, ["ingest", "video", str(still)])
    assert res.exit_code == 2 and "still image" in res.output and "Traceback" not in res.output


def test_video_refuses_a_bad_marker_sidecar(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"never decoded: the sidecar is checked first")
    bad = tmp_path / "marks.srt"
    bad.write_text("1\n00:00:05,000 --> 00:00:01,000\nbackwards\n")
    res = runner.invoke(app, ["ingest", "video", str(clip), "--markers", str(bad)])
    assert res.exit_code == 2 and "--markers" in res.output
