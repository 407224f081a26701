"""The HTML report in a real headless chromium (Debian's package, driven by
Playwright without a browser download): self-contained, under 500 KB for 30
columns, no console error, and charts that are drawn (not blank)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import require_executable
from tether.monitor import drift, profile, render
from tether.monitor.config import MonitorConfig
from tether.monitor.perf import Chunk, Metric, PerfReport

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _frames(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"num_{i:02d}": rng.normal(i + (shift if i < 6 else 0), 1, rows) for i in range(25)}
    for i in range(5):
        data[f"cat_{i}"] = rng.choice([f"c{j}" for j in range(3 + 4 * i)], rows)
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def page_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drift report of 30 columns (6 drifted) with a per-chunk trend."""
    categorical = frozenset(f"cat_{i}" for i in range(5))
    reference = profile.Profile.from_bytes(
        profile.build(_frames(5000, 1, 0), None, categorical).to_bytes(), "test"
    )
    report = drift.compare(reference, _frames(3000, 2, 1.0), MonitorConfig(), exact=False)
    chunks = [
        Chunk(
            f"w{i}", 500, {"f1": 0.9 - i / 20, "accuracy": 0.92 - i / 30}, [], 30, i / 10, False, []
        )
        for i in range(6)
    ]
    metrics = [Metric("m.json", "f1", 0.9, 0.65), Metric("m.json", "accuracy", 0.92, 0.75)]
    perf = PerfReport("m@v1.0.0", "m v1.0.0", 3000, "y", 0.5, metrics, [], report, chunks, "week")
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render.perf_html(perf), encoding="utf-8")
    return path


def test_the_report_is_one_small_self_contained_file(page_html: Path) -> None:
    text = page_html.read_text(encoding="utf-8")
    assert len(text.encode()) < 500_000
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)  # no network
    assert "<script" not in text and "@import" not in text
    # The verdict comes first, before any table or chart.
    assert text.index('id="verdict"') < text.index("<table") < text.index("<svg")
    assert text.count('class="chart"') == 30 + 2  # one per column, two trend charts


def test_chromium_draws_the_charts_without_console_errors(page_html: Path, tmp_path: Path) -> None:
    executable = require_executable("chromium", "chromium")
    from PIL import Image, ImageStat
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request {r.url}"))
            page.goto(page_html.as_uri())
            page.wait_for_load_state("load")
            assert "DATASET DRIFT" in page.inner_text("#verdict") or "no dataset drift" in (
                page.inner_text("body")
            )
            charts = page.query_selector_all("svg.chart")
            assert len(charts) == 32
            for chart in (charts[0], charts[2], charts[-1]):  # a trend, a number, a category
                box = chart.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 50
                image = Image.open(io.BytesIO(chart.screenshot())).convert("L")
                variance = ImageStat.Stat(image).var[0]
                assert variance > 50, f"chart looks blank (pixel variance {variance:.1f})"
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
