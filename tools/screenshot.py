"""Make nbs/images/serve.png, the README's screenshot of `p8seg serve`'s page, with the committed CamVid model.

    python tools/screenshot.py                       # results/camvid_best/model.keras, ../shared/data/camvid, 0016E5_07959
    python tools/screenshot.py --model MODEL --data ROOT --id ID --out nbs/images/serve.png

Starts `p8seg serve MODEL --data ROOT --port P` in a subprocess on a free port of 127.0.0.1, opens `/`
in Debian's headless Chromium (`/usr/bin/chromium` driven by `/usr/bin/chromedriver` through
Selenium: nothing downloads a browser), chooses the id in the list, waits for the predicted mask and
the image's IoU table, saves the window as a PNG (quantised to 256 colours to keep it small), and stops
the server. Run it from the repository root, so the data path shown on the page is the relative one.
"""
import argparse, contextlib, socket, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="results/camvid_best/model.keras")
    p.add_argument("--data", default="../shared/data/camvid")
    p.add_argument("--id", default="0016E5_07959", help="image id of the val split to show")
    p.add_argument("--out", default="nbs/images/serve.png")
    p.add_argument("--size", type=int, nargs=2, default=(1340, 780), metavar=("W", "H"), help="browser window")
    return p.parse_args(argv)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, proc, timeout: float = 180):
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None: sys.exit(f"p8seg serve exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200: return
        except OSError: pass
        time.sleep(0.5)
    sys.exit(f"p8seg serve did not answer {url}/health within {timeout:.0f} s")


def main(argv=None):
    args = parse_args(argv)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import Select, WebDriverWait
    from PIL import Image
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", "import sys; from p8seg.cli import main; sys.exit(main())",
               "serve", args.model, "--data", args.data, "--port", str(port)]
    proc = subprocess.Popen(command, cwd=REPO)
    driver = None
    try:
        wait_for_health(url, proc)
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    f"--window-size={args.size[0]},{args.size[1]}", "--hide-scrollbars"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        driver.get(url + "/")
        WebDriverWait(driver, 60).until(lambda d: d.find_elements("css selector", f"#ids option[value='{args.id}']"))
        Select(driver.find_element("id", "ids")).select_by_value(args.id)
        WebDriverWait(driver, 120).until(lambda d: (d.find_element("id", "prediction").get_attribute("src") or "")
                                         .startswith("data:image/png") and "mIoU" in d.find_element("id", "status").text)
        time.sleep(1)                                                     # let the pictures paint
        out = REPO / args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
        Image.open(out).convert("RGB").quantize(256).save(out, optimize=True)
        print(f"wrote {args.out} ({out.stat().st_size / 1024:.0f} KB): {url}/ with {args.model}, id {args.id}")
    finally:
        if driver is not None: driver.quit()
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()


if __name__ == "__main__":
    main()
