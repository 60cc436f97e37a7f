"""Take README screenshots of the running page: python scripts_screenshot.py URL OUTDIR."""
import sys
from playwright.sync_api import sync_playwright

url, out = sys.argv[1], sys.argv[2]
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                          args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    for name, q in (("answer-simplified", "阿里巴巴在铜锣湾买下了几层写字楼？"), ("answer-traditional", "河套香港園區有多少家機構落戶？")):
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#question textarea").fill(q)
        page.locator("#question textarea").press("Enter")
        page.locator("#chat a.cite-marker").first.wait_for(timeout=120000)
        page.locator("#sources-panel .src-item").first.wait_for(timeout=60000)
        page.locator("#chat a.cite-marker").first.click()
        page.wait_for_timeout(800)
        page.screenshot(path=f"{out}/{name}.png")
        page.close()
    b.close()
