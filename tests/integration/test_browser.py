"""End to end in headless Chromium (Debian's chromium, driven by Playwright): a person classifies and
reads their history; staff launch a run, watch it finish, promote it and classify with it.

Screenshots of every page go to $SCREENSHOT_DIR when it is set (to look at them), else to a temporary
folder.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from ml.config import TrainingConfig
from sentiment.models import Prediction, TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, scope="module")
def _orm_beside_playwright():
    """Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are still sync.

    Module-scoped, like the browser: both end with this module, so no other test runs beside the loop.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        raise RuntimeError("these tests need Chromium: apt-get install chromium (CI's .ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in(browser, live_server, username: str, password: str):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def serve(trained) -> TrainingRun:
    """A succeeded run of the tiny model, promoted to serving."""
    run = TrainingRun.objects.create(
        preset="smoke", config=TrainingConfig(base_model="tiny").to_dict(), status=TrainingRun.Status.SUCCEEDED,
        model_dir=trained.model_dir, output_dir=trained.output_dir, metrics=trained.metrics,
    )  # fmt: skip
    run.promotions.create()
    return run


def test_a_person_classifies_a_review_and_sees_it_in_their_history(
    browser, live_server, django_user_model, trained_tiny_run, shots
):
    from playwright.sync_api import expect

    run = serve(trained_tiny_run)
    django_user_model.objects.create_user("ann", password="ann-password-1")
    page = sign_in(browser, live_server, "ann", "ann-password-1")
    shots(page, "01-classify-empty")
    page.fill("#id_text", "A wonderful, brilliant film: I loved every superb minute.")
    page.get_by_role("button", name="Classify").click()
    expect(page.locator("#result .verdict")).to_have_text("Positive")
    expect(page.locator("#result")).to_contain_text(f"Run #{run.pk}")
    expect(page.locator("#result")).to_contain_text("Confidence 0.")
    shots(page, "02-classify-result")
    page.click("nav >> text=History")
    expect(page.locator("table.predictions")).to_contain_text("wonderful, brilliant film")
    expect(page.locator("table.predictions")).to_contain_text("positive")
    shots(page, "03-history")
    assert Prediction.objects.get().user.username == "ann"


def test_a_person_makes_an_api_key_in_the_browser_and_a_program_uses_it(
    browser, live_server, django_user_model, trained_tiny_run, shots
):
    import json
    import urllib.error
    import urllib.request

    from playwright.sync_api import expect

    run = serve(trained_tiny_run)
    django_user_model.objects.create_user("bob", password="bob-password-1")
    page = sign_in(browser, live_server, "bob", "bob-password-1")
    page.click("nav >> text=API")
    page.fill("input[name=name]", "my script")
    page.get_by_role("button", name="Create a key").click()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("rs_")
    shots(page, "04-api-key")

    def classify(text: str, key: str):
        request = urllib.request.Request(
            f"{live_server.url}/api/classify",
            data=json.dumps({"text": text}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, answer = classify("A wonderful, brilliant film: I loved every superb minute.", key)
    assert status == 200 and answer["label"] == "positive" and answer["run"] == run.pk
    assert classify("fine", "rs_wrong")[0] == 401
    page.click("nav >> text=History")
    expect(page.locator("table.predictions")).to_contain_text("wonderful, brilliant film")


def test_staff_launch_watch_promote_and_classify(
    browser, live_server, worker, django_user_model, tiny_model_dir, synthetic_folder, shots
):
    from playwright.sync_api import expect

    django_user_model.objects.create_user("boss", password="boss-password-1", is_staff=True)
    page = sign_in(browser, live_server, "boss", "boss-password-1")
    expect(page.locator("main")).to_contain_text("No model is being served yet")
    page.click("text=Launch a training run")
    for field, value in {
        "base_model": str(tiny_model_dir), "dataset": str(synthetic_folder), "max_length": "64",
        "num_train_epochs": "4", "learning_rate": "0.003", "max_test_examples": "60", "logging_steps": "5",
    }.items():  # fmt: skip
        page.fill(f"#id_{field}", value)
    shots(page, "04-launch-form")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    shots(page, "05-run-page-early")
    expect(page.locator("#status")).to_have_text("Succeeded", timeout=150_000)
    expect(page.locator("#test-card")).to_be_visible()
    expect(page.locator("#loss-chart path.series")).to_have_count(1)
    expect(page.locator("#eval-chart circle")).to_have_count(8)  # accuracy and F1 after each of 4 epochs
    # the page reloads itself once the run has succeeded, with the serving check made after training
    expect(page.locator("#serving-card")).to_contain_text("Served by", timeout=20_000)
    expect(page.locator("#served-runtime")).to_have_text(re.compile(r"^(pytorch|onnx-fp32|onnx-int8)$"))
    served_runtime = page.locator("#served-runtime").inner_text()
    shots(page, "06-run-page-finished")
    page.click("text=Promote to serving")
    expect(page.locator("button", has_text="Served now")).to_be_visible()
    run = TrainingRun.objects.get()
    page.click("nav >> text=Classify")
    page.fill("#id_text", "Dreadful, boring and tedious: the worst film of the year.")
    page.get_by_role("button", name="Classify").click()
    expect(page.locator("#result .verdict")).to_have_text("Negative")
    expect(page.locator("#result")).to_contain_text(f"Run #{run.pk}")
    expect(page.locator("#result")).to_contain_text(f"answered by {served_runtime}")
    shots(page, "07-classify-with-new-model")
    page.goto(f"{live_server.url}/admin/sentiment/trainingrun/")
    expect(page.locator("#result_list")).to_contain_text("Succeeded")
    shots(page, "08-admin-runs")
