"""`p8seg serve`: every endpoint and bad input through FastAPI's TestClient, the real server in a subprocess, a real browser."""
import base64, contextlib, io, os, shutil, socket, subprocess, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import cv2
import pytest

from conftest import tiny_data_and_model, python_command, subprocess_env, REPO

pytest.importorskip("fastapi")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def decode(png: bytes, flags=cv2.IMREAD_UNCHANGED) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), flags)


def from_data_url(url: str) -> bytes:
    head, body = url.split(",", 1)
    assert head == "data:image/png;base64", head
    return base64.b64decode(body)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    "A tiny synthetic set (3 val photos, 64x128), a tiny untrained model (32x64), the app over them, and one odd-size JPEG."
    from p8seg.serve import create_app
    from p8seg.sources import load_file_paths
    tmp, root, model_path = tiny_data_and_model(tmp_path_factory.mktemp("serve"), n_train=1, n_val=3)
    photos, labels = load_file_paths(root, "val")
    jpeg = tmp / "street.jpg"          # a size the model does not have, and not the data set's
    rng = np.random.default_rng(0)
    cv2.imwrite(str(jpeg), cv2.resize(cv2.imread(str(photos[0])), (77, 50)) + rng.integers(0, 20, (50, 77, 3), dtype=np.uint8))
    app = create_app(model_path, data=root, split="val")
    return SimpleNamespace(tmp=tmp, root=root, model_path=model_path, photos=photos, labels=labels, jpeg=jpeg,
                           app=app, client=TestClient(app))


def post(client, path: Path, output=None, name=None, **params):
    query = {**({"output": output} if output else {}), **params}
    return client.post("/predict", params=query, files={"file": (name or path.name, path.read_bytes())})


def p8seg_predict(model_path, photo: Path, out: Path, capsys, monkeypatch):
    "Run `p8seg predict MODEL PHOTO --out OUT` in process (the CLI's `main`), from the photo's folder; (status, stderr)."
    from p8seg.cli import main
    monkeypatch.chdir(photo.parent)
    capsys.readouterr()
    code = main(["predict", str(model_path), photo.name, "--out", str(out)])
    return code, capsys.readouterr().err


# --- the API through TestClient ---------------------------------------------------------------

def test_health_model_categories(served):
    from p8seg.labels import CATEGORY_NAMES
    c = served.client
    assert c.get("/health").json() == {"status": "ok"}
    info = c.get("/model").json()
    assert (info["model"], info["architecture"], info["format"], info["input_size"], info["precision"]) == \
        ("tiny.keras", "unet_mini", "keras", [32, 64], "float32")
    assert info["val_miou"] is None and "no run.json" in info["trained_on"]
    cats = c.get("/categories").json()
    assert [x["name"] for x in cats] == CATEGORY_NAMES and cats[7]["color"] == "#00008e"   # car blue (0, 0, 142)


def test_model_with_run_json(served, tmp_path):
    "A model saved by `p8seg train` (run.json and result.json beside it): /model names its data and its val mIoU."
    import json
    from p8seg.serve import create_app
    shutil.copy(served.model_path, tmp_path / "model.keras")
    (tmp_path / "run.json").write_text(json.dumps({"config": {"arch": "unet_mini"}, "data": "/d/camvid", "source": "camvid"}))
    (tmp_path / "result.json").write_text(json.dumps({"row": {"miou": 0.5}}))
    info = TestClient(create_app(tmp_path / "model.keras")).get("/model").json()
    assert info["trained_on"] == "trained on camvid data /d/camvid" and info["val_miou"] == 0.5


@pytest.mark.parametrize("which", ["photo", "jpeg"])
def test_predict_is_byte_for_byte_p8seg_predict(served, which, tmp_path, capsys, monkeypatch):
    "The three outputs are the files `p8seg predict` writes for the same photo, byte for byte, at the photo's size."
    photo = served.photos[0] if which == "photo" else served.jpeg
    code, err = p8seg_predict(served.model_path, photo, tmp_path / "out", capsys, monkeypatch)
    assert code == 0, err
    for output, kind in [(None, "category"), ("category", "category"), ("color", "color"), ("overlay", "overlay")]:
        r = post(served.client, photo, output)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
        assert r.content == (tmp_path / "out" / f"{photo.stem}_{kind}.png").read_bytes(), (which, kind)
    mask = decode(post(served.client, photo).content)
    size = cv2.imread(str(photo)).shape[:2]
    assert mask.shape == size and mask.dtype == np.uint8 and mask.max() < 8


def test_predict_json(served):
    from p8seg.labels import CATEGORY_NAMES
    mask = decode(post(served.client, served.jpeg).content)
    answer = post(served.client, served.jpeg, "json").json()
    assert (answer["height"], answer["width"]) == (50, 77) and answer["inference_ms"] >= 0
    assert list(answer["shares"]) == CATEGORY_NAMES
    np.testing.assert_allclose(list(answer["shares"].values()), np.bincount(mask.ravel(), minlength=8) / mask.size)
    assert "color" not in answer
    full = post(served.client, served.jpeg, "json", images="true").json()
    assert from_data_url(full["color"]) == post(served.client, served.jpeg, "color").content
    assert from_data_url(full["overlay"]) == post(served.client, served.jpeg, "overlay").content


def test_images_and_one_image(served):
    "Ids are the photos' stems; one image's pictures and IoU agree with predict and with `p8seg.evaluate`."
    from p8seg.evaluate import evaluate
    from p8seg.inference import load_model, predict, read_photo
    from p8seg.labels import colorize
    from p8seg.sources import CITYSCAPES
    from p8seg.data import read_label_ids
    listing = served.client.get("/images").json()
    stems = [CITYSCAPES.stem(p) for p in served.photos]
    assert listing == {"split": "val", "source": "cityscapes", "ids": stems}
    model = load_model(served.model_path)
    per_image = evaluate(model, served.root, "val").per_image
    for image_id, photo, label, miou in zip(stems, served.photos, served.labels, per_image.miou):
        view = served.client.get(f"/images/{image_id}").json()
        image = read_photo(photo)
        mask = predict(model, [image])[0]
        assert (decode(from_data_url(view["photo"]), cv2.IMREAD_COLOR)[..., ::-1] == image).all()
        assert (decode(from_data_url(view["prediction"]), cv2.IMREAD_COLOR)[..., ::-1] == colorize(mask)).all()
        truth = CITYSCAPES.remap(read_label_ids(label))
        assert (decode(from_data_url(view["truth"]), cv2.IMREAD_COLOR)[..., ::-1] == colorize(truth)).all()
        assert from_data_url(view["overlay"]) == post(served.client, photo, "overlay").content
        assert view["miou"] == pytest.approx(miou)        # the image's mIoU as `p8seg evaluate` scores it
        assert list(view["iou"])[0] == "void" and view["iou"]["void"] is None
        assert all(v is None or 0 <= v <= 1 for v in view["iou"].values())
        assert served.client.get(f"/images/{image_id}/category.png").content == post(served.client, photo).content
        for kind in ("photo", "truth", "prediction", "overlay"):
            r = served.client.get(f"/images/{image_id}/{kind}.png")
            assert r.status_code == 200 and r.content == from_data_url(view[kind]), kind


def test_without_data_upload_only(served):
    from p8seg.serve import create_app
    client = TestClient(create_app(served.model_path))
    assert client.get("/images").json() == {"split": None, "source": None, "ids": []}
    assert client.get("/images/anything").status_code == 404
    assert post(client, served.jpeg).status_code == 200
    assert 'id="upload"' in client.get("/").text


def test_test_split_refused(served):
    from p8seg.serve import create_app
    with pytest.raises(ValueError, match="refusing to evaluate"):
        create_app(served.model_path, data=served.root, split="test")


# --- bad input: the right status, and the next good request is answered ---------------------

def test_not_an_image_is_415_with_predicts_message(served, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    code, err = p8seg_predict(served.model_path, bad, tmp_path / "out", capsys, monkeypatch)
    assert code == 1 and err.startswith("p8seg: error: bad.png: cannot decode"), err
    r = post(served.client, bad)
    assert r.status_code == 415
    assert "p8seg: error: " + r.json()["detail"] == err.strip()
    assert post(served.client, served.jpeg).status_code == 200


def bad_requests(served):
    "(label, request function, expected status, expected text in the answer) for every kind of bad input."
    from p8seg.serve import truncated_png
    c, jpeg = served.client, served.jpeg
    image_id = CITY_STEM(served)
    return [
        ("empty file", lambda: c.post("/predict", files={"file": ("e.png", b"")}), 415, "cannot decode"),
        ("text file", lambda: c.post("/predict", files={"file": ("x.txt", b"hello")}), 415, "x.txt: cannot decode"),
        ("path as name", lambda: c.post("/predict", files={"file": ("../../etc/passwd", b"x")}), 415, "passwd: cannot decode"),
        ("cut-off png", lambda: c.post("/predict", files={"file": ("cut.png", truncated_png(40, 30))}), 415, "cut.png"),
        ("header of a huge png", lambda: c.post("/predict", files={"file": ("bomb.png", truncated_png(30000, 30000))}),
         413, "900 megapixels"),
        ("missing field", lambda: c.post("/predict"), 422, "file"),
        ("wrong field", lambda: c.post("/predict", files={"photo": ("a.jpg", jpeg.read_bytes())}), 422, "file"),
        ("bad output", lambda: c.post("/predict?output=nope", files={"file": ("a.jpg", jpeg.read_bytes())}), 422, "output"),
        ("unknown id", lambda: c.get("/images/nope"), 404, "nope"),
        ("encoded dot-dot", lambda: c.get("/images/%2e%2e"), 404, ""),
        ("encoded path", lambda: c.get("/images/..%2f..%2fetc%2fpasswd"), 404, ""),
        ("path picture", lambda: c.get("/images/%2e%2e/photo.png"), 404, ""),
        ("unknown picture", lambda: c.get(f"/images/{image_id}/secret.png"), 404, "secret"),
        ("unknown route", lambda: c.get("/etc/passwd"), 404, ""),
    ]   # raw `/images/..` (httpx would tidy it away): see `test_real_server`


def CITY_STEM(served):
    from p8seg.sources import CITYSCAPES
    return CITYSCAPES.stem(served.photos[0])


def test_bad_then_good(served):
    good = post(served.client, served.jpeg).content
    for label, request, status, text in bad_requests(served):
        r = request()
        assert r.status_code == status, (label, r.status_code, r.text)
        assert text in r.text, (label, r.text)
        again = post(served.client, served.jpeg)
        assert again.status_code == 200 and again.content == good, label
        assert served.client.get(f"/images/{CITY_STEM(served)}").status_code == 200, label


def test_size_limits_bytes_and_megapixels(served):
    from p8seg.serve import create_app
    photo = served.photos[0]            # 64x128 = 8192 pixels, a PNG of some kB
    size = len(photo.read_bytes())
    client = TestClient(create_app(served.model_path, max_bytes=size - 1))
    r = post(client, photo)
    assert r.status_code == 413 and f"{size} bytes is over the upload limit of {size - 1} bytes" in r.json()["detail"]
    r = client.post("/predict", content=b"x" * (size + 2**21), headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "request body" in r.json()["detail"]        # from Content-Length, body never read
    chunks = (b"x" * 2**16 for _ in range(64))                                  # 4 MiB, no Content-Length
    r = client.post("/predict", content=chunks, headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413, r.text
    assert post(client, served.jpeg).status_code == 200                         # a small one still passes
    client = TestClient(create_app(served.model_path, max_megapixels=0.008))     # 8000 < 8192 pixels
    r = post(client, photo)
    assert r.status_code == 413 and "128x64 pixels" in r.json()["detail"]
    assert post(client, served.jpeg).status_code == 200                         # 77x50 fits


# --- a registered model: `p8seg serve models:/NAME@champion --tracking-uri ...` -------------------

@pytest.fixture(scope="module")
def registry(served, tmp_path_factory):
    "(tracking URI, run id): `served`'s model logged as an MLflow Model and registered as p8seg-unit@champion."
    import mlflow
    from p8seg.config import TrainConfig
    from p8seg.tracking import setup_mlflow, tracking_uri_of, log_model, register_model
    config = TrainConfig(out=str(tmp_path_factory.mktemp("registry")), experiment="serve")
    setup_mlflow(config)
    with mlflow.start_run() as run: log_model(served.model_path)
    register_model(run.info.run_id, "p8seg-unit", tracking_uri_of(config))
    return tracking_uri_of(config), run.info.run_id


def test_serve_registered_champion(served, registry):
    "The app over models:/p8seg-unit@champion answers /health, names the URI in /model and predicts what the .keras predicts."
    from p8seg.serve import create_app
    client = TestClient(create_app("models:/p8seg-unit@champion", data=served.root, tracking_uri=registry[0]))
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/model").json()["model"] == "models:/p8seg-unit@champion"
    for photo in (served.jpeg, served.photos[0]):
        r = post(client, photo)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert np.array_equal(decode(r.content), decode(post(served.client, photo).content))


def test_serve_bad_uri_is_one_line(registry, capsys):
    "`p8seg serve` with a URI naming nothing exits 1 with one line naming the URI and the store."
    from p8seg.cli import main
    capsys.readouterr()
    code = main(["serve", "models:/p8seg-unit@nope", "--tracking-uri", registry[0]])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1, err
    assert "MLflow model models:/p8seg-unit@nope (tracking URI sqlite:" in err and "cannot be found" in err, err


# --- under load: one inference at a time (a LiteRT interpreter is not thread-safe) -------------

def test_concurrent_requests_tflite(served, tmp_path):
    "Eight threads posting at once to a .tflite model get the answer one request alone gets, every time."
    from p8seg.export import tflite_bytes
    from p8seg.inference import load_model
    from p8seg.serve import create_app
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tflite_bytes(load_model(served.model_path)))
    client = TestClient(create_app(path, data=served.root))
    assert client.get("/model").json()["precision"] == "float32"
    assert client.get("/model").json()["format"] == "tflite"
    photos = [served.jpeg, *served.photos]
    alone = {p: post(client, p).content for p in photos}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: (photos[i % 4], post(client, photos[i % 4])), range(48)))
    assert all(r.status_code == 200 and r.content == alone[p] for p, r in answers)


# --- the real server, over HTTP ------------------------------------------------------------------

def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(served):
    "`p8seg serve MODEL --data ROOT --port PORT` in a subprocess on a free localhost port; its base URL."
    port = free_port()
    log = open(served.tmp / "serve.log", "w")
    proc = subprocess.Popen(python_command(None, "serve", served.model_path, "--data", served.root, "--port", port),
                            cwd=REPO, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None: pytest.fail(f"p8seg serve exited {proc.returncode}: {(served.tmp / 'serve.log').read_text()}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200: break
            except httpx.HTTPError: pass
            if time.monotonic() > deadline: pytest.fail(f"p8seg serve did not answer: {(served.tmp / 'serve.log').read_text()}")
            time.sleep(0.5)
        yield SimpleNamespace(url=url, proc=proc, log=served.tmp / "serve.log")
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()


def raw_get(url: str, target: str) -> bytes:
    "The start of the answer to `GET target` sent byte for byte on a socket to the local server at `url`."
    host, port = url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return s.recv(200)


def test_real_server(served, server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/images").json()["ids"] == served.client.get("/images").json()["ids"]
        files = {"file": ("street.jpg", served.jpeg.read_bytes())}
        r = http.post("/predict", files=files)
        assert r.status_code == 200 and r.content == post(served.client, served.jpeg).content
        assert http.post("/predict", files={"file": ("x.txt", b"hello")}).status_code == 415
        assert http.get("/images/%2e%2e").status_code == 404
        assert http.post("/predict", files=files).content == r.content          # still up, same answer
    for target in ("/images/..", "/images/../../etc/passwd", "/images/%2e%2e/photo.png", "/images/..%2f..%2fetc%2fpasswd"):
        assert raw_get(server.url, target).startswith(b"HTTP/1.1 404"), target   # sent as is, no client tidying
    assert "page: http://127.0.0.1:" in server.log.read_text()                  # bound to localhost by default


# --- a real browser: headless Chromium driven by Selenium ---------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = "chromium / chromium-driver not installed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI") == "true": pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)  # never downloads a driver
    try: yield driver
    finally: driver.quit()


def wait_for_src(driver, element_id, timeout=60) -> bytes:
    "The PNG bytes an <img> shows once its src is a data URL."
    from selenium.webdriver.support.ui import WebDriverWait
    src = WebDriverWait(driver, timeout).until(
        lambda d: (d.find_element("id", element_id).get_attribute("src") or "").startswith("data:image/png") and
                  d.find_element("id", element_id).get_attribute("src"))
    return from_data_url(src)


def test_browser_picks_an_id(served, server, browser):
    "Open the page, choose an id: the predicted mask shown is /predict's coloured mask of that photo."
    from selenium.webdriver.support.ui import Select, WebDriverWait
    browser.get(server.url + "/")
    WebDriverWait(browser, 60).until(lambda d: len(d.find_elements("css selector", "#ids option")) == len(served.photos))
    assert not browser.find_element("id", "browse").get_attribute("hidden")
    assert len(browser.find_elements("css selector", "#legend span")) == 8
    image_id = CITY_STEM(served)
    Select(browser.find_element("id", "ids")).select_by_value(image_id)
    shown = wait_for_src(browser, "prediction")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        expected = http.post("/predict", params={"output": "color"},
                             files={"file": ("p.png", served.photos[0].read_bytes())}).content
    assert shown == expected
    WebDriverWait(browser, 30).until(lambda d: "mIoU" in d.find_element("id", "status").text)
    assert len(browser.find_elements("css selector", "#iou tr")) == 1 + 7 + 1        # header, 7 categories, mean
    for kind in ("photo", "truth", "overlay"): wait_for_src(browser, kind)


def test_browser_upload(served, server, browser, tmp_path):
    "Upload a bad file (its message is shown), then a photo: its mask is /predict's coloured mask."
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(server.url + "/")
    WebDriverWait(browser, 60).until(lambda d: "input" in d.find_element("id", "model").text)
    bad = tmp_path / "notes.png"; bad.write_bytes(b"not a photo")
    browser.find_element("id", "file").send_keys(str(bad))
    WebDriverWait(browser, 60).until(lambda d: "notes.png: cannot decode" in d.find_element("id", "upload-status").text)
    browser.find_element("id", "file").send_keys(str(served.jpeg))
    shown = wait_for_src(browser, "upload-prediction")
    assert shown == post(served.client, served.jpeg, "color").content
    assert wait_for_src(browser, "upload-overlay") == post(served.client, served.jpeg, "overlay").content


# --- the benchmark runs ------------------------------------------------------------------------

def test_bench_serve_tiny(tmp_path):
    "`benchmarks/bench_serve.py --tiny` starts the server on 127.0.0.1, loads it at concurrency 1 and 8, no errors."
    import json, sys
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_serve.py"), "--tiny", "--json", str(out)],
                       cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stdout + r.stderr
    figures = json.loads(out.read_text())
    assert [(l["concurrency"], l["requests"], l["errors"]) for l in figures["levels"]] == [(1, 6, 0), (8, 6, 0)]
    assert figures["p50_ratio"] > 0 and "p50 at concurrency 1 / in-process predict" in r.stdout
