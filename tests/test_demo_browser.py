"""kws-demo in a real browser: Debian's headless Chromium plays a recording of planted keywords as its
microphone; the page must list kws-detect's detections on that recording (labels equal, times within one
hop). A dropped file must show kws-detect's detections on it; a refused microphone, its message; a server
that goes away, its message. A model of make train's 35 labels must show its top bars by posterior, all
of them behind a toggle, and its detections in view at laptop sizes. Skips without chromium and
chromedriver, except with KWS_REQUIRE_BROWSER=1 (CI: .ci/run installs them)."""

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf
from scipy.signal import resample_poly

from kws.config_dir import CONFIG_DIR
from kws.data.preparation import Decoding, Preparation
from kws.ship.detector import ABSOLUTE_FLOOR_DBFS, detect, settings_for
from kws.ship.runtime import load_spotter
from kws.training.module import KWSModule
from tests.conftest import REPO, compose_config
from tests.test_detect import exported_model  # noqa: F401 (a fixture)
from tests.test_listener import planted_recording

pytestmark = pytest.mark.slow
STATUS = "document.getElementById('status')"  # where the page says what is wrong


MISSING = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
if importlib.util.find_spec("selenium") is None:
    MISSING.append("selenium (the dev extra)")
NEEDS = f"kws-demo's browser test needs {', '.join(MISSING)} (apt-get install chromium chromium-driver)"
REQUIRED = os.environ.get("KWS_REQUIRE_BROWSER") == "1"
if MISSING and not REQUIRED:  # before the fixtures train a model for nothing
    pytest.skip(NEEDS, allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    """scripts/demo_screenshot.py's functions: start kws-demo, start Chromium, listen, drop a file."""
    if MISSING:
        pytest.fail(NEEDS + "; KWS_REQUIRE_BROWSER=1 is set")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO / "scripts"))
        yield importlib.import_module("demo_screenshot")


# Above the default 0.6: at 0.6 the tiny test model has a crossing at 0.6007 at the first word's onset,
# which comes and goes as the recording moves by a fraction of a hop (the page's windows never fall where
# the file's do); from 0.7 on its detections stay the same (checked below).
THRESHOLD = "0.7"


def kws_detect(model, wav) -> list[dict]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kws.commands.detect",
            str(model),
            str(wav),
            "--json",
            "--threshold",
            THRESHOLD,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_the_page_hears_the_microphone_and_a_dropped_file_as_kws_detect_does(
    browser,
    exported_model,  # noqa: F811 (the fixture imported from tests.test_detect)
    tiny_synth_root,
    tmp_path,
):
    audio, truth = planted_recording(tiny_synth_root)
    microphone = tmp_path / "planted.wav"
    sf.write(microphone, audio, 16000, subtype="PCM_16")
    dropped = tmp_path / "planted_44k_stereo.wav"  # any rate, any channels, as kws-detect reads them
    resampled = resample_poly(audio / 32768, 441, 160)
    sf.write(dropped, np.column_stack([resampled, -resampled]), 44100, subtype="PCM_16")
    expected = kws_detect(exported_model, microphone)
    assert len(expected) >= 0.9 * len(truth)
    spotter = load_spotter(exported_model)
    settings = settings_for(spotter, {"threshold": float(THRESHOLD)})
    for shift in range(-800, 800, 160):  # up to a hop earlier or later: the same words
        moved = np.concatenate([np.zeros(max(shift, 0), np.int16), audio[max(-shift, 0) :]])
        found = detect(spotter.preparation.waveform(moved), spotter, **settings)
        assert [d.label for d in found] == [d["label"] for d in expected], (
            f"unstable at a {shift}-sample shift"
        )
    hop = (
        json.loads((exported_model / "model.json").read_text()).get("streaming", {}).get("default_hop_s")
        or 0.1
    )
    seconds = len(audio) / 16000

    server, url = browser.start_demo(exported_model, "--threshold", THRESHOLD)
    driver = refusing = None
    try:
        driver = browser.chromium(microphone)
        heard = browser.listen(driver, url, seconds + 1.0)
        on_timeline = browser.drop(driver, dropped)
        refusing = browser.chromium(microphone, allow=False)  # --deny-permission-prompts
        refusing.get(url.replace("127.0.0.1", "localhost"))
        browser.wait_for(refusing, "document.querySelectorAll('#bars .bar').length")
        refusing.find_element("id", "start").click()
        refused = browser.wait_for(refusing, f"{STATUS}.className === 'error' && {STATUS}.textContent")
        # No microphone: what Chromium answers on a machine without one (a script stands in for it here,
        # where the fake device is always there).
        refusing.execute_script(
            f"{STATUS}.textContent = ''; navigator.mediaDevices.getUserMedia = () =>"
            " Promise.reject(new DOMException('Requested device not found', 'NotFoundError'))"
        )
        refusing.find_element("id", "start").click()
        no_microphone = browser.wait_for(refusing, f"{STATUS}.className === 'error' && {STATUS}.textContent")
        server.terminate()  # the first page is still listening: it must say the server went away
        server.wait(10)
        gone = browser.wait_for(driver, f"{STATUS}.textContent.includes('server is gone')")
    finally:
        for browser_window in (driver, refusing):
            if browser_window is not None:
                browser_window.quit()
        server.kill()
        server.wait()

    # The page's clock starts when its stream does, a little before or after Chromium starts playing the
    # file: kws-detect on the file shifted by that much (leading silence added or cut) has the page's
    # windows, on the same grid. Chromium loops the file: only the first pass counts.
    first_in_file = int(np.flatnonzero(np.abs(audio) >= 32768 * 10 ** (ABSOLUTE_FLOOR_DBFS / 20))[0])
    shift = round(heard["first_sound_s"] * 16000) - first_in_file
    assert -first_in_file < shift < 16000, f"the page's stream started {shift / 16000:.2f} s off"
    aligned = tmp_path / "as_the_page_heard_it.wav"
    sf.write(aligned, np.concatenate([np.zeros(max(shift, 0), np.int16), audio[max(-shift, 0) :]]), 16000)
    expected_live = kws_detect(exported_model, aligned)
    live = [d for d in heard["detections"] if d["time"] < seconds + shift / 16000]
    print(f"shift {shift / 16000:.3f} s; page {live}; kws-detect {expected_live}")
    assert [d["label"] for d in live] == [d["label"] for d in expected_live] == [d["label"] for d in expected]
    assert all(abs(d["time"] - e["time"]) <= hop + 1e-6 for d, e in zip(live, expected_live, strict=True))

    assert on_timeline == [
        {"label": d["label"], "time": d["time"]} for d in kws_detect(exported_model, dropped)
    ]
    assert gone and "microphone permission was refused" in refused and "No microphone" in no_microphone


MAKE_TRAIN_WORDS = list(OmegaConf.load(CONFIG_DIR / "vocabulary" / "speech_commands_v2.yaml").words)
TOP = 5  # bars.js's TOP
# Every message the page's WebSocket receives, recorded before the page's own scripts run.
RECORD_MESSAGES = """window.received = []; const PageSocket = WebSocket;
window.WebSocket = class extends PageSocket { constructor(...args) { super(...args);
  this.addEventListener('message', (event) => window.received.push(JSON.parse(event.data))); } };"""
BAR_LABELS = "[...document.querySelectorAll('#bars .bar')]{} .map(bar => bar.dataset.label)"
IN_VIEW = "(r => r.top >= 0 && r.bottom <= window.innerHeight)(document.getElementById('{}')"
IN_VIEW += ".getBoundingClientRect())"


@pytest.fixture(scope="module")
def untrained_35_labels(tmp_path_factory):
    """A checkpoint of the zoo's CNN over make train's 35 words, untrained: the page's order and layout need
    posteriors that move, not a model that knows the words (which would take 35 words of training data)."""
    folder = tmp_path_factory.mktemp("labels_35")
    cfg = OmegaConf.to_container(compose_config("train", folder, []))
    preparation = Preparation(
        tuple(MAKE_TRAIN_WORDS), 16000, Decoding(sample_rate=16000), features=cfg["features"]
    )
    torch.manual_seed(0)
    module = KWSModule(preparation=preparation.as_dict(), model=cfg["model"], optimizer=cfg["optimizer"])
    with torch.no_grad():  # untrained, each label holds about 1/35: sharpened, they spread up to ~0.6
        module.network.classifier.head[-1].weight *= 30
    path = folder / "untrained.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}, path)
    return path


def ranked(posteriors: dict) -> list[str]:
    """The labels as bars.js orders them: by the shown value (two decimals), ties in label order."""
    return sorted(
        MAKE_TRAIN_WORDS, key=lambda w: (-math.floor(posteriors[w] * 100 + 0.5), MAKE_TRAIN_WORDS.index(w))
    )


def test_many_labels_show_the_top_bars_by_posterior_the_rest_behind_a_toggle_and_detections_in_view(
    browser, untrained_35_labels
):
    assert len(MAKE_TRAIN_WORDS) == 35
    visible = BAR_LABELS.format(".filter(bar => bar.getClientRects().length)")
    server, url = browser.start_demo(untrained_35_labels)
    driver = None
    try:
        # A 1280x720 window, its page 577 px high under Chromium's own bars, as on such a laptop's screen.
        # Its fake microphone: a beep every second.
        driver = browser.chromium(size="1280,720")
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_MESSAGES})
        driver.get(url)
        browser.wait_for(driver, "document.querySelectorAll('#bars .bar').length")
        before = driver.execute_script(f"return {visible}")
        browser.listen(driver, url, 2.0)
        driver.find_element("id", "stop").click()  # the bars settle in the last posteriors' order
        browser.wait_for(driver, "state.socket.readyState === WebSocket.CLOSED")
        received = driver.execute_script("return window.received")
        shown = driver.execute_script(f"return [{visible}, {BAR_LABELS.format('')}]")
        toggle = driver.find_element("id", "all-labels")
        toggle_text = toggle.text
        in_view = [driver.execute_script(f"return {IN_VIEW.format('detections-panel')}")]
        toggle.click()
        everything, toggled_text = driver.execute_script(f"return {visible}"), toggle.text
        in_view.append(driver.execute_script(f"return {IN_VIEW.format('detections-panel')}"))
        # More detections than fit: a real 35-word model would find them; this one is untrained.
        driver.execute_script(
            "show({seconds: 60, level_dbfs: -30, first_sound_s: null, posteriors: null, detections:"
            " Array.from({length: 40}, (_, i) => ({label: 'yes', time: i, prob: 0.9}))})"
        )
        newest = "document.querySelector('#detections li:last-child').getBoundingClientRect()"
        list_box = "document.getElementById('detections').getBoundingClientRect()"
        crowded = driver.execute_script(
            f"return [{IN_VIEW.format('detections-panel')}, {newest}.bottom <= {list_box}.bottom + 1,"
            f" {newest}.bottom <= window.innerHeight]"
        )
        driver.set_window_size(1366, 768)
        in_view.append(driver.execute_script(f"return {IN_VIEW.format('detections-panel')}"))
        driver.set_window_size(420, 860)  # a phone: one column, the detections above the bars
        narrow = driver.execute_script(
            "const top = (id) => document.getElementById(id).getBoundingClientRect().top;"
            "return top('detections-panel') < top('bars')"
        )
    finally:
        if driver is not None:
            driver.quit()
        server.kill()
        server.wait()

    assert before == MAKE_TRAIN_WORDS[:TOP]  # no posteriors yet: label order
    last = [m["posteriors"] for m in received if m["posteriors"]][-1]
    assert len(received) >= 10 and len({json.dumps(m["posteriors"]) for m in received}) > 1
    assert ranked(last)[:TOP] != MAKE_TRAIN_WORDS[:TOP]  # the posteriors reorder the bars
    assert shown == [ranked(last)[:TOP], ranked(last)]
    assert (toggle_text, toggled_text) == ("show all 35 labels", f"show top {TOP}")
    assert everything == ranked(last)
    assert in_view == [True, True, True] and crowded == [True, True, True] and narrow
