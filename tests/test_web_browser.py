"""The web app in a real browser: Debian's headless Chromium driven by Selenium, the real model.

The scenario a delegate follows: type what they want to say, see a cited result, copy its
citation, open the document at the paragraph, open the precedents timeline, ask a question.
A screenshot of each page goes to ``$ASEANCYBERDOCS_SCREENSHOTS`` (the README's are made with
``ASEANCYBERDOCS_SCREENSHOTS=docs ASEANCYBERDOCS_WEB_INDEX=indexes/full``), else to a
temporary folder. Nothing is downloaded: the driver and the browser are the system's.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from web_index import web_index

from aseancyberdocs import open_index
from aseancyberdocs.web import create_app

pytestmark = [pytest.mark.model, pytest.mark.corpus]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
QUERY = "states should not allow their territory to be used for wrongful ICT acts"
AGREED = ("Underlining the importance of respect for human rights and fundamental freedoms in the use of "
          "information and communications technologies,")
QUESTION = ("Is there UN language telling States not to damage another country's critical infrastructure "
            "through ICT operations?")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1200,900",
]


@pytest.fixture(scope="module")
def library(corpus_dir, tmp_path_factory):
    index = os.environ.get("ASEANCYBERDOCS_WEB_INDEX")
    return open_index(index if index else web_index(corpus_dir, tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def base_url(library):
    """The app served by uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(library, allowed_hosts=["127.0.0.1"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for program in (CHROMIUM, CHROMEDRIVER):
        if not Path(program).exists():
            pytest.fail(f"{program} is missing: apt-get install chromium chromium-driver (as .ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given, so selenium-manager has nothing to look up or download.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("ASEANCYBERDOCS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wait(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _screenshot(driver, folder: Path, name: str) -> None:
    path = folder / f"web-{name}.png"
    assert driver.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def _console_errors(driver) -> list[str]:
    """Errors the page logged: a blocked script or stylesheet (CSP) would show here."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_a_delegate_finds_copies_opens_and_traces_a_paragraph(browser, base_url, library, shots):
    from selenium.webdriver.common.by import By

    expected = library.search(QUERY, k=5)[0]
    browser.get(base_url + "/")
    box = browser.find_element(By.NAME, "q")
    box.send_keys(QUERY)
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    card = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.hits li.card"))[0]
    citation = card.find_element(By.CSS_SELECTOR, "cite").text
    assert citation == expected.citation.formatted
    assert card.find_elements(By.CSS_SELECTOR, "blockquote mark")  # the query's words are marked
    _screenshot(browser, shots, "search")

    # Copy the citation: the button only shows when the script runs, and the clipboard must hold it.
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    button = card.find_element(By.CSS_SELECTOR, "button.copy")
    assert button.is_displayed()
    button.click()
    _wait(browser, lambda d: button.text == "Copied", timeout=10)
    pasted = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('failed: ' + e));"
    )
    assert pasted == citation

    # Open the document at the paragraph: highlighted and scrolled into view.
    card.find_element(By.CSS_SELECTOR, "a.open-doc").click()
    _wait(browser, lambda d: "/doc/" in d.current_url)
    url = urlsplit(browser.current_url)
    assert unquote(url.path) == "/doc/" + expected.passage.doc_id
    target = browser.find_element(By.ID, unquote(url.fragment))
    assert "cited" in target.get_attribute("class").split()
    assert expected.passage.text[:40] in target.text
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top;", target)
    assert 0 <= top < browser.execute_script("return window.innerHeight;")
    _screenshot(browser, shots, "document")

    # Back to the results, then where this language comes from.
    browser.back()
    card = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.hits li.card"))[0]
    card.find_element(By.CSS_SELECTOR, "a.open-precedents").click()
    svg = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "figure.chart svg.timeline"))[0]
    found = library.precedents(expected.passage.passage_id)
    assert len(svg.find_elements(By.CSS_SELECTOR, "g.occurrence")) == len(found)
    cards = browser.find_elements(By.CSS_SELECTOR, "ol.precedents li.card")
    assert cards[0].find_element(By.CSS_SELECTOR, "cite").text == found[0].citation.formatted
    assert "first" in cards[0].get_attribute("class").split()
    assert svg.size["width"] > 300 and svg.size["height"] > 40  # drawn, not collapsed
    assert _console_errors(browser) == []


def test_a_delegate_traces_pasted_agreed_language(browser, base_url, library, shots):
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/precedents")
    browser.find_element(By.NAME, "text").send_keys(AGREED)
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    svg = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "figure.chart svg.timeline"))[0]
    found = library.precedents(AGREED)
    assert found
    circles = svg.find_elements(By.CSS_SELECTOR, "circle")
    assert len(circles) == sum(1 for item in found if item.citation.date)
    x = [float(circle.get_attribute("cx")) for circle in circles]
    assert x == sorted(x)  # earliest first, left to right
    cards = browser.find_elements(By.CSS_SELECTOR, "ol.precedents li.card")
    assert [card.find_element(By.CSS_SELECTOR, "cite").text for card in cards] == [
        item.citation.formatted for item in found]
    changed = [item for item in found if item.diff]
    if changed:  # a word diff is shown as deleted and inserted words
        index = found.index(changed[0])
        assert cards[index].find_elements(By.CSS_SELECTOR, ".diff del, .diff ins")
    _screenshot(browser, shots, "precedents")
    assert _console_errors(browser) == []


def test_a_delegate_asks_a_question(browser, base_url, library, shots):
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/ask")
    browser.find_element(By.NAME, "q").send_keys(QUESTION)
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    answer = library.ask(QUESTION)
    assert answer.answered
    quotes = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.quotes li.card"))
    assert len(quotes) == len(answer.citations)
    assert quotes[0].find_element(By.CSS_SELECTOR, "cite").text == answer.citations[0].citation
    assert quotes[0].find_element(By.CSS_SELECTOR, "blockquote").text == answer.citations[0].quote
    _screenshot(browser, shots, "ask")
    browser.find_element(By.CSS_SELECTOR, "a.marker[href='#quote-1']").click()
    assert urlsplit(browser.current_url).fragment == "quote-1"
    assert _console_errors(browser) == []


def test_pages_work_without_javascript(base_url, tmp_path):
    """With scripts off the form still searches; the citation is plain text and the copy button stays hidden."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get(base_url + "/")
        driver.find_element(By.NAME, "q").send_keys("critical infrastructure")
        driver.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
        card = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.hits li.card"))[0]
        assert card.find_element(By.CSS_SELECTOR, "cite").text
        assert not card.find_element(By.CSS_SELECTOR, "button.copy").is_displayed()
    finally:
        driver.quit()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
