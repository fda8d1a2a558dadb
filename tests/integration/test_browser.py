"""End to end in headless Chromium (Debian's chromium, driven by Playwright): a person classifies and
reads their history; staff launch a run, watch it finish, promote it and classify with it; staff train two
runs, compare them, read one's mistakes, behaviour and an explanation, promote it on the evidence of the
replay, and roll back; the API's interactive docs classify a review with "Try it out".

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
from sentiment.selectors.feedback import corrections_set
from sentiment.services.api_tokens import api_token_create

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

    def take(page, name: str, element=None) -> Path:
        """The whole page, or only ``element`` (a locator) where the page is too long to read as one."""
        path = folder / f"{name}.png"
        if element is not None:
            element.screenshot(path=str(path))
        else:
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


def drawn_chart(page, canvas_id: str, expression: str):
    """Evaluate `expression` on the chart `c` once Chart.js has drawn it.

    The page's chart scripts run after the page has loaded, and on a busy machine after the test has
    moved on: reading `Chart.getChart` at once sometimes finds no chart yet.
    """
    page.wait_for_function("id => window.Chart && Chart.getChart(id)", arg=canvas_id)
    return page.evaluate(f"id => {{ const c = Chart.getChart(id); return {expression}; }}", canvas_id)


def chart_points(page, canvas_id: str) -> list[int]:
    """How many points each series of a chart holds, as Chart.js itself has them."""
    return drawn_chart(page, canvas_id, "c.data.datasets.map(d => d.data.length)")


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


def try_classify_in_the_docs(page, review: str) -> None:
    """Swagger UI: open ``POST /classify``, "Try it out" with ``review``, Execute."""
    operation = page.locator("#operations-predictions-classify")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill(f'{{"text": "{review}", "explain": false}}')
    operation.get_by_role("button", name="Execute").click()


def test_the_interactive_docs_try_it_out_classifies_a_review(
    browser, live_server, django_user_model, trained_tiny_run, shots
):
    """Signed in on the site (the session, with its CSRF token) and then with an API key ("Authorize"),
    as a script's author would; every file of the page comes from the site itself."""
    from playwright.sync_api import expect

    serve(trained_tiny_run)
    cid = django_user_model.objects.create_user("cid", password="cid-password-1")
    page = sign_in(browser, live_server, "cid", "cid-password-1")
    hosts = set()
    page.on("request", lambda request: hosts.add(re.sub(r"^\w+://([^/]+).*$", r"\1", request.url)))
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".info .title")).to_contain_text("Review sentiment API")
    shots(page, "22-api-docs", page.locator(".swagger-ui .information-container"))

    try_classify_in_the_docs(page, "A moving, beautifully acted film.")
    response = page.locator("#operations-predictions-classify .live-responses-table .response").first
    expect(response.locator(".response-col_status")).to_contain_text("200")
    expect(response.locator(".response-col_description")).to_contain_text('"label"')
    shots(page, "23-api-docs-try-it-out", page.locator("#operations-predictions-classify .live-responses-table"))
    assert Prediction.objects.get().text == "A moving, beautifully acted film."
    forged = page.request.post(  # the session's cookie without the page's CSRF token: another site's form
        f"{live_server.url}/api/v1/classify", data='{"text": "forged"}', headers={"Content-Type": "application/json"}
    )
    assert forged.status == 403 and Prediction.objects.count() == 1

    # a visitor who is not signed in authorizes with an API key
    key = api_token_create(user=cid, name="docs")
    visitor = browser.new_page(viewport={"width": 1200, "height": 900})
    visitor.on("request", lambda request: hosts.add(re.sub(r"^\w+://([^/]+).*$", r"\1", request.url)))
    visitor.goto(f"{live_server.url}/api/v1/docs")
    visitor.get_by_role("button", name="Authorize").first.click()
    dialog = visitor.locator(".dialog-ux .modal-ux")
    shots(visitor, "24-api-docs-authorize", dialog)
    dialog.locator("input[type=text], input[type=password]").first.fill(key)
    dialog.locator(".auth-btn-wrapper button.authorize").first.click()
    shots(visitor, "25-api-docs-authorized", dialog)
    expect(dialog.locator(".auth-container").first).to_contain_text("Authorized")
    dialog.locator("button.btn-done").first.click()
    try_classify_in_the_docs(visitor, "Dull, slow and far too long.")
    answered = visitor.locator("#operations-predictions-classify .live-responses-table .response").first
    expect(answered.locator(".response-col_status")).to_contain_text("200")
    shots(visitor, "26-api-docs-with-a-key", answered)
    assert Prediction.objects.filter(user=cid).count() == 2
    assert hosts == {live_server.url.split("://", 1)[1]}, hosts  # no CDN: the page works offline


def test_staff_launch_watch_promote_and_classify(
    browser, live_server, worker, django_user_model, tiny_model_dir, synthetic_folder, shots
):
    from playwright.sync_api import expect

    django_user_model.objects.create_user("boss", password="boss-password-1", is_staff=True)
    page = sign_in(browser, live_server, "boss", "boss-password-1")
    expect(page.locator("main")).to_contain_text("No model is being served yet")
    page.click("text=Launch a training run")
    page.click("details.advanced > summary")  # the settings past the basics are folded
    for field, value in {
        "base_model": str(tiny_model_dir), "data_folder": str(synthetic_folder), "max_length": "64",
        "num_train_epochs": "4", "learning_rate": "0.003", "max_test_examples": "60", "logging_steps": "5",
    }.items():  # fmt: skip
        page.fill(f"#id_{field}", value)
    shots(page, "04-launch-form")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    shots(page, "05-run-page-early")
    expect(page.locator("#status")).to_have_text("Succeeded", timeout=150_000)
    expect(page.locator("#test-card")).to_be_visible()
    assert chart_points(page, "loss-chart")[0] > 0  # drawn by Chart.js, read back from the chart itself
    assert chart_points(page, "eval-chart") == [4, 4]  # accuracy and F1 after each of 4 epochs
    # the page reloads itself once the run has succeeded, with the serving check made after training
    expect(page.locator("#serving-card")).to_contain_text("Served by", timeout=20_000)
    expect(page.locator("#served-runtime")).to_have_text(re.compile(r"^(pytorch|onnx-fp32|onnx-int8)$"))
    served_runtime = page.locator("#served-runtime").inner_text()
    shots(page, "06-run-page-finished")
    page.click("text=Promote to serving")
    expect(page.locator("#replay")).to_contain_text("No model is served yet")
    page.fill("#id_reason", "the first model")
    page.click("#promote-form button")
    expect(page.locator("#audit")).to_contain_text("the first model")
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


def launch(page, live_server, settings_: dict) -> int:
    """Launch a run from the admin's launch form; its id."""
    page.goto(f"{live_server.url}/admin/sentiment/trainingrun/launch/")
    page.click("details.advanced > summary")
    for field, value in settings_.items():
        page.fill(f"#id_{field}", value)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    return int(page.url.rstrip("/").split("/")[-1])


def test_staff_compare_runs_read_mistakes_and_promote_on_evidence_then_roll_back(
    browser, live_server, worker, django_user_model, tiny_model_dir, synthetic_folder, shots
):
    from playwright.sync_api import expect

    django_user_model.objects.create_user("eve", password="eve-password-1", is_staff=True)
    page = sign_in(browser, live_server, "eve", "eve-password-1")
    common = {"base_model": str(tiny_model_dir), "data_folder": str(synthetic_folder), "max_length": "64",
              "max_test_examples": "60", "logging_steps": "5"}  # fmt: skip
    good = launch(page, live_server, {**common, "num_train_epochs": "4", "learning_rate": "0.003"})
    weak = launch(page, live_server, {**common, "num_train_epochs": "1", "learning_rate": "0.0003"})
    expect(page.locator("#status")).to_have_text("Succeeded", timeout=240_000)  # the weak run, launched second
    assert TrainingRun.objects.get(pk=good).status == "succeeded"

    # the first model is served, and people classify with it
    page.goto(f"{live_server.url}/runs/{good}/promote/")
    page.fill("#id_reason", "the first model")
    page.click("#promote-form button")
    for text in ("A wonderful, brilliant film.", "Dreadful and dull.", "The plot was superb, the ending awful."):
        page.click("nav >> text=Classify")
        page.fill("#id_text", text)
        page.get_by_role("button", name="Classify").click()
        expect(page.locator("#result .verdict")).to_be_visible()

    # why this answer: the words highlighted by their push, worked out by the worker while the page waits
    page.click("#why-link")
    expect(page.locator("#explained mark").first).to_be_visible(timeout=60_000)
    expect(page.locator("main")).to_contain_text("occlusion")
    shots(page, "10-explanation")

    # compare the two runs, chosen in the admin's list
    page.goto(f"{live_server.url}/admin/sentiment/trainingrun/")
    page.check(f"input[name=_selected_action][value='{good}']")
    page.check(f"input[name=_selected_action][value='{weak}']")
    page.select_option("select[name=action]", "compare_runs")
    page.click("button[name=index]")
    expect(page.locator("h1")).to_have_text("Compare 2 runs")
    assert drawn_chart(page, "compare-chart", "c.data.datasets.length") == 2
    expect(page.locator("#compare-settings tr.differs")).to_contain_text(["learning_rate", "num_train_epochs"])
    expect(page.locator("#compare-behaviour")).to_contain_text("Negation")
    shots(page, "11-compare")

    # the weak run: its behaviour, then the reviews of its worst confusion cell
    page.goto(f"{live_server.url}/runs/{weak}/")
    expect(page.locator("#behaviour-card")).to_contain_text("Negation")
    assert drawn_chart(page, "calibration-chart", "c.data.datasets.length") > 0
    [[_, fp], [fn, _]] = TrainingRun.objects.get(pk=weak).metrics["test"]["confusion_matrix"]
    worst = "fp" if fp >= fn else "fn"
    assert max(fp, fn) > 0, "the weak run was expected to make mistakes"
    shots(page, "12-run-page-checks")
    page.click(f"#{worst}")
    expect(page.locator("#mistakes-count")).to_contain_text(f"{max(fp, fn)} of {max(fp, fn)}")
    confidences = [float(t) for t in page.locator("#mistakes td.nowrap").all_inner_texts()]
    assert confidences == sorted(confidences, reverse=True)  # most confidently wrong first
    shots(page, "13-mistakes")

    # promote the weak run: the page replays what people classified and asks why
    page.goto(f"{live_server.url}/runs/{weak}/")
    page.click("#promote-link")
    expect(page.locator("#replayed")).to_have_text("3", timeout=60_000)  # the worker's replay, once done
    expect(page.locator("#agreement")).to_contain_text("%")
    shots(page, "14-promote")
    page.fill("#id_reason", "trying the new recipe")
    if page.locator("#confirm-regressions").count():  # the weak run is worse: serving it needs a tick
        page.click("#promote-form button")
        expect(page.locator("#confirm-regressions")).to_contain_text("Tick the box to serve it anyway")
        page.check("#id_accept_regressions")
    page.click("#promote-form button")
    expect(page.locator("#audit tr.current")).to_contain_text("trying the new recipe")

    # roll back, with a reason, from the serving history
    page.fill("#rollback-form input[name=reason]", "answers got worse")
    page.click("#rollback-form button")
    expect(page.locator("#audit tr.current")).to_contain_text("answers got worse")
    expect(page.locator("#audit tbody tr")).to_have_count(3)
    expect(page.locator("#audit tbody tr").first).to_contain_text("Restored")
    shots(page, "15-serving-history")
    from sentiment.selectors.serving import served_model

    assert served_model().run.pk == good


def test_a_person_says_an_answer_is_wrong_and_staff_accept_it_into_the_corrections(
    browser, live_server, django_user_model, trained_tiny_run, shots
):
    from playwright.sync_api import expect

    serve(trained_tiny_run)
    django_user_model.objects.create_user("cat", password="cat-password-1")
    django_user_model.objects.create_user("dan", password="dan-password-1", is_staff=True)
    page = sign_in(browser, live_server, "cat", "cat-password-1")
    page.fill("#id_text", "A wonderful, brilliant film: I loved every superb minute. Not.")
    page.get_by_role("button", name="Classify").click()
    answer = page.locator("#result .verdict").inner_text().lower()
    right = "negative" if answer == "positive" else "positive"
    page.click("#wrong summary")
    page.fill("#wrong input[name=comment]", "the last word turns it round")
    page.click(f"#wrong button:has-text('It is {right}')")
    expect(page.locator(".message.success")).to_contain_text("staff will review it")
    shots(page, "16-feedback-given")
    page.click("nav >> text=History")
    expect(page.locator("table.predictions")).to_contain_text(f"you said {right}")

    staff = sign_in(browser, live_server, "dan", "dan-password-1")
    staff.click("nav >> text=Feedback")
    expect(staff.locator("#feedback-queue")).to_contain_text("the last word turns it round")
    shots(staff, "17-feedback-queue")
    staff.check("input[name=feedback]")
    staff.click("button[value=accepted]")
    expect(staff.locator(".message.success")).to_contain_text("1 item accepted")
    expect(staff.locator("#corrections-count")).to_have_text("1")
    assert [row["label"] for row in corrections_set().rows] == [["negative", "positive"].index(right)]


def test_the_loop_from_users_feedback_and_own_data_to_a_run_that_scores_the_corrections(
    browser, live_server, worker, django_user_model, trained_tiny_run, tiny_model_dir, tmp_path, shots
):
    """Issue 16's loop: a person marks answers wrong on the page and through the API, staff accept them,
    upload a labelled data set and read its statistics, launch a run on it with the corrections from the
    form (basics, advanced, estimate), and read the new run's corrections score beside the served model's."""
    import json
    import urllib.request

    from playwright.sync_api import expect

    from ml.data.corrections import held_out
    from tests.synthetic import synthetic_reviews

    served = serve(trained_tiny_run)
    person = django_user_model.objects.create_user("fay", password="fay-password-1")
    django_user_model.objects.create_user("gus", password="gus-password-1", is_staff=True)
    # one correction the next run may train on, one held out of every run (the hash of the text decides)
    candidates = [f"A wonderful, brilliant film: the cast {n} was superb. Not." for n in range(40)]
    trained_text = next(text for text in candidates if not held_out(text))
    held_text = next(text for text in candidates if held_out(text))

    page = sign_in(browser, live_server, "fay", "fay-password-1")
    page.fill("#id_text", trained_text)
    page.get_by_role("button", name="Classify").click()
    answer = page.locator("#result .verdict").inner_text().lower()
    page.click("#wrong summary")
    page.click(f"#wrong button:has-text('It is {'negative' if answer == 'positive' else 'positive'}')")
    expect(page.locator(".message.success")).to_contain_text("staff will review it")

    key = api_token_create(user=person, name="loop")

    def call(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{live_server.url}{path}", data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    given = call("/api/classify", {"text": held_text})
    wrong = "negative" if given["label"] == "positive" else "positive"
    assert call(f"/api/predictions/{given['id']}/feedback", {"correct_label": wrong})["status"] == "pending"

    staff = sign_in(browser, live_server, "gus", "gus-password-1")
    staff.click("nav >> text=Feedback")
    expect(staff.locator("#feedback-queue tbody tr")).to_have_count(2)
    for box in staff.locator("input[name=feedback]").all():
        box.check()
    staff.click("button[value=accepted]")
    expect(staff.locator("#corrections-count")).to_have_text("2")

    # staff upload their own labelled reviews and read the statistics
    upload = tmp_path / "my-reviews.csv"
    synthetic_reviews(300, seed=5).to_csv(upload, index=False)
    staff.click("nav >> text=Data sets")
    staff.fill("input[name=name]", "my reviews")
    staff.set_input_files("input[name=file]", str(upload))
    staff.click("#dataset-upload button[type=submit]")
    expect(staff.locator("#rows")).to_contain_text("300")
    assert drawn_chart(staff, "length-chart", "c.data.datasets[0].data.reduce((a, b) => a + b)") == 300
    expect(staff.locator("#overlap-card")).to_be_visible()
    shots(staff, "18-data-set-preview")

    # train on it alone, with the corrections, from the launch form the preview links to
    staff.click("#train-alone")
    expect(staff.locator("#id_dataset")).to_have_value(re.compile(r"^set:\d+$"))
    staff.fill("#id_base_model", str(tiny_model_dir))
    staff.fill("#id_num_train_epochs", "4")
    staff.fill("#id_learning_rate", "0.003")
    staff.select_option("#id_train_on_corrections", "true")
    expect(staff.locator("[data-preset-for=learning_rate]")).to_have_text("preset: 0.0001")
    expect(staff.locator("[data-estimate=memory]")).to_contain_text("GiB", timeout=30_000)  # the worker reported
    shots(staff, "19-launch-form-basics")
    staff.click("details.advanced > summary")
    staff.fill("#id_max_length", "64")
    staff.fill("#id_logging_steps", "5")
    staff.select_option("#id_preset", "tutorial")  # every field follows the preset it would take its value from
    expect(staff.locator("[data-preset-for=max_length]")).to_have_text("preset: 512")
    staff.select_option("#id_preset", "smoke")
    expect(staff.locator("[data-estimate=reviews]")).to_contain_text("to train on")
    expect(staff.locator("[data-estimate=time]")).to_contain_text("about")  # the served tiny run measured the speed
    shots(staff, "20-launch-form-advanced-and-estimate")
    staff.click("input[type=submit]")
    staff.wait_for_url(re.compile(r"/runs/\d+/$"))
    expect(staff.locator("#status")).to_have_text("Succeeded", timeout=240_000)
    run = TrainingRun.objects.exclude(pk=served.pk).get()
    assert run.metrics["corrections"]["trained_on"] == 1 and run.metrics["corrections"]["held_out"] == 1
    staff.reload()
    expect(staff.locator("#corrections-accuracy")).to_contain_text("right (")
    expect(staff.locator("#corrections-served")).to_contain_text("right")
    expect(staff.locator("#estimate")).to_contain_text("took")
    shots(staff, "21-run-with-corrections-score")


PHONE, DESKTOP = 390, 1280


def fits_and_navigates(page, width: int) -> None:
    """The document is no wider than the screen (a wide table scrolls in its own box), and every page of the
    header's navigation is on the screen and can be clicked (visible, not covered by anything)."""
    where = page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{where} is wider than {width} px"
    links = page.locator("header.site-header nav a, header.site-header .sign-out button")
    for i in range(links.count()):
        link = links.nth(i)
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (where, link.inner_text(), box)
        link.click(trial=True)  # Playwright's actionability checks, without clicking


def a_site_with_every_kind_of_page(trained, django_user_model) -> dict:
    """What the pages show: a served run and a second one (one epoch each, to compare), a run in warm-up and one
    scoring after its last step, reviews with feedback, a CSV job, a labelled data set."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from sentiment.models import CsvClassification
    from sentiment.services.classify import review_classify
    from sentiment.services.datasets import labelled_dataset_create
    from sentiment.services.feedback import prediction_feedback_give
    from tests.synthetic import synthetic_reviews

    staff = django_user_model.objects.create_user("sam", password="sam-password-1", is_staff=True)
    person = django_user_model.objects.create_user("pat", password="pat-password-1")
    served = serve(trained)
    one_epoch = {**trained.metrics, "epochs": trained.metrics["epochs"][:1], "wall_seconds": 278.4}
    other = TrainingRun.objects.create(
        preset="smoke", config={**served.config, "learning_rate": 3e-4}, status=TrainingRun.Status.SUCCEEDED,
        model_dir=trained.model_dir, output_dir=trained.output_dir, metrics=one_epoch,
    )  # fmt: skip
    TrainingRun.objects.filter(pk=served.pk).update(
        metrics={**trained.metrics, "epochs": trained.metrics["epochs"][:1]}
    )
    log = "INFO ml.training.pipeline: training on cpu\n\rMap: 100%|██████████| 300/300 [00:00<00:00, 1648.94 ex/s]\n"
    running = {"status": TrainingRun.Status.RUNNING, "max_steps": 300, "eta_at": timezone.now(), "log_tail": log * 30}
    warming = TrainingRun.objects.create(
        preset="cpu", config={**served.config, "warmup_ratio": 0.1}, step=8, learning_rate=0.0, loss=0.6923,
        eta_seconds=1400.0, history=[{"step": 1, "loss": 0.6923, "learning_rate": 0.0}], **running,
    )  # fmt: skip
    scoring = TrainingRun.objects.create(
        preset="smoke", config=served.config, step=300, learning_rate=0.0, loss=0.31, eta_seconds=298.0,
        history=[{"step": 100, "loss": 0.52, "learning_rate": 4e-5}, {"step": 300, "loss": 0.31, "learning_rate": 0.0}],
        **running,
    )  # fmt: skip
    answers = [review_classify(user=person, text=text) for text in (
        "A wonderful, brilliant film: I loved every superb minute.", "Dull, slow and far too long. " * 8)]  # fmt: skip
    prediction_feedback_give(
        prediction=answers[1], correct_label="negative" if answers[1].label == "positive" else "positive"
    )
    job = CsvClassification.objects.create(user=person, filename="reviews-of-the-year-2024.csv",
                                           upload="uploads/x.csv", total_rows=1200, done_rows=450)  # fmt: skip
    upload = io.BytesIO()
    synthetic_reviews(300, seed=5).to_csv(upload, index=False)
    dataset = labelled_dataset_create(
        user=staff, name="support tickets", description="Reviews from our support inbox.",
        upload=SimpleUploadedFile("tickets.csv", upload.getvalue(), content_type="text/csv"),
    )  # fmt: skip
    return {
        "person": [
            ("classify", "/"), ("history", "/history/"), ("why", f"/history/{answers[0].pk}/why/"),
            ("api", "/api/"), ("csv", "/csv/"), ("csv-job", f"/csv/{job.pk}/"),
            ("403", f"/runs/{served.pk}/"), ("404", "/history/999999/why/"), ("api-docs", "/api/v1/docs"),
        ],
        "staff": [
            ("runs", "/admin/sentiment/trainingrun/"), ("launch", "/admin/sentiment/trainingrun/launch/"),
            ("run", f"/runs/{served.pk}/"), ("run-warm-up", f"/runs/{warming.pk}/"),
            ("run-scoring", f"/runs/{scoring.pk}/"), ("mistakes", f"/runs/{served.pk}/mistakes/?cell=fn"),
            ("compare", f"/runs/compare/?run={served.pk}&run={other.pk}"), ("promote", f"/runs/{other.pk}/promote/"),
            ("serving", "/serving/"), ("feedback", "/feedback/"), ("data-sets", "/datasets/"),
            ("monitor", "/monitor/"), ("monitor-hour", "/monitor/?window=hour"),
            ("data-set", f"/datasets/{dataset.pk}/"), ("promotions", "/admin/sentiment/promotion/"),
        ],
        "visitor": [("sign-in", "/accounts/login/"), ("404-visitor", "/no/such/page/")],
    }  # fmt: skip


def test_every_page_fits_a_phone_and_its_navigation_is_usable(
    browser, live_server, django_user_model, trained_tiny_run, shots
):
    """Issue 28: at 390 px (a phone) and at 1280 px, no page is wider than the screen and the navigation can be
    used; no page asks for anything that is not there (the icon included); the error pages are the site's."""
    from django.test import RequestFactory
    from django.views.defaults import server_error
    from playwright.sync_api import expect

    # before any model is served, the pages point to the run training the first one
    first = TrainingRun.objects.create(
        preset="smoke", config=TrainingConfig(base_model="minilm").to_dict(), status=TrainingRun.Status.RUNNING,
        step=30, max_steps=120, promote_when_done=True,
    )  # fmt: skip
    django_user_model.objects.create_user("pia", password="pia-password-1")
    page = sign_in(browser, live_server, "pia", "pia-password-1")
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        expect(page.locator("#first-model")).to_contain_text(f"{first} is training the first one")
        expect(page.locator("#first-model-progress")).to_contain_text("25.0% of its training is done")
        fits_and_navigates(page, width)
        shots(page, f"28-first-model-{width}")
    page.close()
    first.delete()

    pages = a_site_with_every_kind_of_page(trained_tiny_run, django_user_model)
    accounts = {"person": ("pat", "pat-password-1"), "staff": ("sam", "sam-password-1"), "visitor": None}
    broken = server_error(RequestFactory().get("/")).content  # Django's own 500 handler, with the site's 500.html

    def fail(route):
        route.fulfill(status=500, body=broken, content_type="text/html")

    for width in (DESKTOP, PHONE):
        for who, visits in pages.items():
            page = sign_in(browser, live_server, *accounts[who]) if accounts[who] else browser.new_page()
            page.set_viewport_size({"width": width, "height": 900})
            missing = []
            page.on("response", lambda r, missing=missing: r.status == 404 and r.request.resource_type != "document"
                    and missing.append(r.url))  # fmt: skip
            for name, path in visits:
                response = page.goto(f"{live_server.url}{path}")
                page.wait_for_load_state("networkidle")
                if name.startswith(("403", "404")):
                    assert response.status == int(name[:3]) and page.locator("#error-page").is_visible()
                else:
                    assert response.status == 200, (path, response.status)
                fits_and_navigates(page, width)
                shots(page, f"28-{name}-{width}")
            if who == "person":  # a new key, shown at the top of the API page
                page.goto(f"{live_server.url}/api/")
                page.fill("input[name=name]", f"phone {width}")
                page.get_by_role("button", name="Create a key").click()
                assert page.locator("#new-key").bounding_box()["y"] < page.locator("#api-docs-link").bounding_box()["y"]
                fits_and_navigates(page, width)
                shots(page, f"28-api-new-key-{width}")
                page.goto(f"{live_server.url}/api/v1/docs")
                page.click("#back-to-site")  # the docs' way back to the site
                page.wait_for_url(f"{live_server.url}/api/")
            if who == "staff":  # Django's 500 handler, as a failing page would answer
                page.route(f"{live_server.url}/fails/", fail)
                page.goto(f"{live_server.url}/fails/")
                expect(page.locator("#error-page h1")).to_have_text("Something went wrong on our side")
                fits_and_navigates(page, width)
                shots(page, f"28-500-{width}")
            assert missing == [], missing  # the icon included
            icon = page.locator("link[rel=icon]").first.get_attribute("href")
            assert page.request.get(f"{live_server.url}{icon}").status == 200
            page.close()


def test_staff_watch_live_traffic_on_the_monitor_and_its_drift_alarm(
    browser, live_server, django_user_model, trained_tiny_run, shots
):
    """Issue 31: the monitor page with live traffic, its charts drawn from the server's figures, and the drift
    alarm that one-line reviews raise, on the monitor and on every staff page, at 1280 and 390 px."""
    from playwright.sync_api import expect

    from sentiment.services.classify import reviews_classify
    from tests.synthetic import synthetic_reviews

    django_user_model.objects.create_user("sam", password="sam-password-1", is_staff=True)
    person = django_user_model.objects.create_user("pat", password="pat-password-1")
    serve(trained_tiny_run)
    reviews_classify(user=person, texts=synthetic_reviews(150, seed=9)["text"].tolist())
    reviews_classify(user=person, texts=["Great.", "Awful!", "Loved it.", "Boring.", "Superb film"] * 30)
    page = sign_in(browser, live_server, "sam", "sam-password-1")
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/monitor/?window=hour")
        expect(page.locator("#answers")).to_have_text("300")
        expect(page.locator("#drift-alarm")).to_contain_text("Drift alarm")
        expect(page.locator("#drift-state")).to_contain_text("alarm")
        traffic = drawn_chart(page, "traffic-chart", "c.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0))")
        assert traffic == [300, 0]
        assert drawn_chart(page, "length-chart", "c.data.datasets.length") == 2
        assert drawn_chart(page, "confidence-chart", "c.data.labels.length") == 10
        fits_and_navigates(page, width)
        shots(page, f"31-monitor-{width}")
        page.goto(f"{live_server.url}/serving/")
        expect(page.locator("#drift-alarm a")).to_have_attribute("href", "/monitor/")
    page.close()
