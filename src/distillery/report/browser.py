"""Open a Snakemake report in headless Chromium and record what a reader would see.

The report is a single HTML page whose JavaScript app builds the view; `browser.js` is
added to a copy of it, clicks through every category and opens the first image, and the DOM
Chromium dumps afterwards holds its record. A screenshot of that final view is saved too.

    python -m distillery.report.browser report.html --screenshot report.png
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from distillery.errors import InputError

_WALKER = Path(__file__).with_name("browser.js")
_RECORD = re.compile(r'<pre id="distillery-report-walk"[^>]*>(.*?)</pre>', re.S)
# sandbox-free, network-free, profile-free: runs as root in CI containers and never phones home
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,900",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def _instrumented_copy(report: Path, directory: Path) -> Path:
    page = report.read_text(encoding="utf-8")
    end = page.rfind("</body>")
    if end < 0:
        raise InputError(report, "<html>", "no </body>", "a Snakemake HTML report")
    walker = f"<script>\n{_WALKER.read_text(encoding='utf-8')}\n</script>\n"
    copy = directory / "report_walk.html"
    copy.write_text(page[:end] + walker + page[end:], encoding="utf-8")
    return copy


def _chromium(chromium: str, profile: Path, *args: str, timeout: float) -> str:
    # virtual time: the walk pauses after every click, and a report of many datasets holds
    # hundreds of results; the budget costs nothing once the walk has finished
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               "--virtual-time-budget=600000", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


def walk_report(report: str | Path, screenshot: str | Path | None = None,
                chromium: str | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """{"title", "categories": {category: {subcategory: [rows]}}, "error"} of a report.

    Each row is {"labels": [...], "download": file name of a download-only result or None,
    "view": what the main panel showed after clicking the result: {"tag": "img"|"iframe"|...,
    "mime": MIME type of its data URI, "width": rendered/natural width in px, "text"}}.
    """
    report = Path(report).resolve()
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("no Chromium found: install it (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="report-walk-") as tmp:
        tmp_dir = Path(tmp)
        page = _instrumented_copy(report, tmp_dir).as_uri()
        dom = _chromium(chromium, tmp_dir / "profile", "--dump-dom", page, timeout=timeout)
        if screenshot is not None:
            shot = tmp_dir / "screenshot.png"
            _chromium(chromium, tmp_dir / "profile", f"--screenshot={shot}", page,
                      timeout=timeout)
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(shot, screenshot)
    match = _RECORD.search(dom)
    if match is None:
        raise RuntimeError("the report's page never finished rendering (no walk record in DOM)")
    return json.loads(html.unescape(match.group(1)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(walk_report(args.report, args.screenshot), indent=2))


if __name__ == "__main__":
    main()
