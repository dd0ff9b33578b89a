"""Screenshot kws-demo's page with headless Chromium playing a recording as the microphone (for docs/demo.md).

    python scripts/demo_screenshot.py outputs/train/<run>/export recording.wav --out docs/images/demo.png

Needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`) and Selenium (the
dev extra). Starts `kws-demo MODEL --port 0`, opens its page with Chromium's fake microphone playing WAV
(16-bit PCM; Chromium loops it), listens for the recording's length, drops the same file on the page and
writes the PNG while the looping recording lights a keyword's bar. tests/test_demo_browser.py drives the
page with the same functions.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def start_demo(model: Path, *flags: str) -> tuple[subprocess.Popen, str]:
    """kws-demo on a free loopback port, and the page's address once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kws.commands.demo", str(model), "--port", "0", *flags],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    line = process.stdout.readline()  # "kws-demo: open http://127.0.0.1:PORT/ (Ctrl-C stops it)"
    if "http://" not in line:
        process.kill()
        raise RuntimeError(f"kws-demo did not start: {line!r}")
    return process, line.split("open ")[1].split()[0]


def chromium(microphone: Path | None = None, allow: bool = True, size: str = "1000,940"):
    """Headless Chromium under chromedriver. `microphone`: a WAV its fake microphone plays (in a loop);
    `allow`: the permission prompt is accepted (--use-fake-ui-for-media-stream) or refused
    (--deny-permission-prompts)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
             f"--window-size={size}", "--autoplay-policy=no-user-gesture-required",
             "--use-fake-device-for-media-stream",
             "--use-fake-ui-for-media-stream" if allow else "--deny-permission-prompts"]  # fmt: skip
    if microphone is not None:
        flags.append(f"--use-file-for-fake-audio-capture={microphone}")
    for flag in flags:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(driver, script: str, timeout: float = 30.0):
    """Poll a JavaScript expression until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script}")
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"the page never had {script}")


def listen(driver, url: str, seconds: float) -> list[dict]:
    """Open the page, press Listen, wait until `seconds` of microphone audio were heard; the detections
    the page lists, and when the first sound came (the page's clock)."""
    driver.get(url)
    wait_for(driver, "document.querySelectorAll('#bars .bar').length")
    driver.find_element("id", "start").click()
    try:
        wait_for(
            driver, f"parseFloat(document.getElementById('clock').textContent) >= {seconds}", seconds + 30
        )
    except TimeoutError as err:
        page = driver.execute_script(
            "return {status: document.getElementById('status').textContent, clock:"
            " document.getElementById('clock').textContent, audio: state.context && state.context.state,"
            " socket: state.socket && state.socket.readyState}"
        )
        raise TimeoutError(f"{err}; the page: {page}") from None
    return driver.execute_script(
        "const list = document.getElementById('detections');"
        "return {first_sound_s: parseFloat(list.dataset.firstSound),"
        " detections: [...list.children].map(li => ({label: li.dataset.label,"
        " time: parseFloat(li.dataset.time), prob: parseFloat(li.dataset.prob)}))}"
    )


def drop(driver, recording: Path) -> list[dict]:
    """Give the drop zone's file input a file; the detections the page puts on its timeline."""
    driver.find_element("id", "file-input").send_keys(str(recording.resolve()))
    wait_for(driver, "document.getElementById('track').dataset.seconds !== undefined")
    return driver.execute_script(
        "return [...document.querySelectorAll('#track .marker')].map(m => ({label: m.dataset.label,"
        " time: parseFloat(m.dataset.time)}))"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path, help="an export folder or a .ckpt")
    parser.add_argument(
        "wav", type=Path, help="16-bit PCM WAV played as the microphone and dropped on the page"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/images/demo.png"))
    args = parser.parse_args()
    process, url = start_demo(args.model)
    driver = chromium(args.wav)
    try:
        listen(driver, url, sf.info(str(args.wav)).duration)
        drop(driver, args.wav)
        # Chromium plays the file again: take the picture while a keyword's bar is over the threshold.
        wait_for(driver, "document.querySelector('#bars .bar.over')", timeout=30)
        driver.save_screenshot(str(args.out))
    finally:
        driver.quit()
        process.terminate()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
