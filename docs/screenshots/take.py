"""Re-take the README screenshots from a running page: python docs/screenshots/take.py URL [OUTDIR]."""
import sys

from playwright.sync_api import sync_playwright

url = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else "docs/screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def ask(page, question: str, wait: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(f"document.querySelector('#chat').innerText.includes({wait!r})", timeout=120000)
    page.wait_for_timeout(1500)


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
    for name, question, wait in (("answer-simplified", "阿里巴巴在铜锣湾买下了几层写字楼？", "13层"),
                                 ("answer-traditional", "香港科技園有多少家獨角獸企業？", "14家")):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, wait_until="domcontentloaded")
        ask(page, question, wait)
        page.locator("#chat a.cite-marker").first.click()
        page.wait_for_timeout(800)
        page.screenshot(path=f"{out}/{name}.png")
        page.close()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url, wait_until="domcontentloaded")
    ask(page, "河套香港園區有多少家機構落戶？", "79家")
    ask(page, "阿里巴巴在铜锣湾买下了几层写字楼？", "13")
    ask(page, "京東呢？", "追問改寫為")
    ask(page, "香港地鐵的車費是多少？", "未能")
    page.screenshot(path=f"{out}/follow-up-and-no-evidence.png")
    page.close()
    # The claim check: one contradicted claim, one supported, one not found.
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="出處查詢").click()
    page.locator("#lookup-box textarea").fill("阿里和螞蟻花了88億人民幣買下港島一號中心20層寫字樓。"
                                              "香港科技園的園區裏有14家獨角獸企業。港鐵車費下月起加價3%。")
    page.locator("#lookup-send").click()
    page.locator("#lookup-result .verdict-not_found").wait_for(timeout=120000)
    page.wait_for_timeout(800)
    page.screenshot(path=f"{out}/claim-check.png", full_page=True)
    page.close()
    # A phone: the sources are stacked under the chat.
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url, wait_until="domcontentloaded")
    ask(page, "河套香港園區首期有多少家創科機構落戶？", "79")
    page.locator("#chat a.cite-marker").first.click()
    page.wait_for_timeout(800)
    page.screenshot(path=f"{out}/phone-sources.png")
    browser.close()
