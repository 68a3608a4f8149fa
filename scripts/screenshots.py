"""The README's screenshots of `vipie show` and `vipie report` on the seeds, taken in headless Chromium.

    python scripts/screenshots.py [--out docs]

Extracts the seeds (`vipie extract`), writes both pages with the CLI, and saves `show.png` (the Cà Mau seed, a
fact hovered so that its spans light up) and `report.png` (the top of the report) into --out, each under 300 KB.
"""

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench_report import REPO, VIPIE, chromium, extract_seeds, offline_page

SHOWN_SEED = "002_05d8b83d5e813e7b"
MAX_BYTES = 300_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seeds = extract_seeds(folder)
        subprocess.run([VIPIE, "show", str(seeds["jsonl"]), "--id", SHOWN_SEED, "--out", str(folder / "show.html")],
                       check=True)
        # Run in the corpus's folder: the report names the corpus as it was given, here without a temporary path.
        subprocess.run([VIPIE, "report", seeds["duckdb"].name, "--out", "report.html", "--title",
                        "vipie: the five seeds"], check=True, cwd=folder)
        requested: list[str] = []
        with chromium() as browser:
            page = offline_page(browser, requested)
            page.goto((folder / "show.html").as_uri())
            row = page.locator("tr.fact").filter(has_text="Cà Mau").nth(2)
            row.scroll_into_view_if_needed()
            page.mouse.wheel(0, 150)
            row.hover()
            page.screenshot(path=args.out / "show.png")
            page = offline_page(browser, requested)
            page.goto((folder / "report.html").as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
            page.screenshot(path=args.out / "report.png")
    assert not requested, f"the pages asked for {requested}"
    for name in ("show.png", "report.png"):
        size = (args.out / name).stat().st_size
        assert size < MAX_BYTES, f"{name}: {size} bytes, over {MAX_BYTES}"
        print(f"{args.out / name}: {size:,} bytes")


if __name__ == "__main__":
    main()
