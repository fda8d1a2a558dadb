import io

import pytest
from django.urls import reverse

from sentiment.models import CsvClassification, Prediction, TrainingRun

pytestmark = pytest.mark.django_db
CLASSIFY = reverse("sentiment:classify")


def test_pages_need_a_sign_in(client):
    for name in ("sentiment:classify", "sentiment:history", "sentiment:csv_upload"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_without_a_served_model_the_page_says_so(client, person, staff):
    client.force_login(person)
    page = client.get(CLASSIFY).content.decode()
    assert "No model is being served yet" in page and "Launch a training run" not in page
    client.force_login(staff)
    assert "Launch a training run" in client.get(CLASSIFY).content.decode()
    response = client.post(CLASSIFY, {"text": "A fine film."}, follow=True)
    assert "No model is being served yet" in response.content.decode()
    assert not Prediction.objects.exists()


def test_classify_answers_with_the_served_model_and_remembers_it(client, person, served_run):
    client.force_login(person)
    response = client.post(CLASSIFY, {"text": "a wonderful brilliant superb film"})
    page = response.content.decode()
    prediction = Prediction.objects.get()
    assert prediction.user == person and prediction.run == served_run and prediction.label == "positive"
    assert 0.5 <= prediction.probability <= 1
    assert "Positive" in page and f"Run #{served_run.pk}" in page
    assert prediction.model_name in page


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "This field is required"), ("x" * 20001, "the limit is 20,000")],
)
def test_bad_reviews_get_a_message_and_create_nothing(client, person, served_run, text, message):
    client.force_login(person)
    response = client.post(CLASSIFY, {"text": text})
    assert message in response.content.decode()
    assert not Prediction.objects.exists()


def test_output_is_escaped(client, person, served_run):
    client.force_login(person)
    page = client.post(CLASSIFY, {"text": "<script>alert(1)</script> awful"}).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_history_is_private_newest_first_searchable_and_paginated(client, person, staff, served_run):
    for i in range(25):
        Prediction.objects.create(user=person, text=f"review number {i}", label="positive", probability=0.9,
                                  run=served_run, model_name="m")  # fmt: skip
    Prediction.objects.create(user=staff, text="staff secret review", label="negative", probability=0.8,
                              run=served_run, model_name="m")  # fmt: skip
    client.force_login(person)
    first = client.get(reverse("sentiment:history")).content.decode()
    assert "review number 24" in first and "review number 4" not in first and "staff secret" not in first
    assert "Page 1 of 2" in first
    second = client.get(reverse("sentiment:history"), {"page": 2}).content.decode()
    assert "review number 0" in second
    found = client.get(reverse("sentiment:history"), {"q": "number 7"}).content.decode()
    assert "review number 7" in found and "review number 8" not in found
    assert "staff secret" not in client.get(reverse("sentiment:history"), {"q": "secret"}).content.decode()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "picture.csv", "not UTF-8"),
        (b"review,stars\nnice,5\n", "reviews.csv", "needs a &#x27;text&#x27; column"),
        (b"text\n", "empty.csv", "no reviews"),
        ("text\nok\n".encode("utf-16"), "wide.csv", "not UTF-8"),
        (b"id,text\n1,fine, really fine\n", "commas.csv", "Line 2 of the CSV does not have the header"),
    ],
)
def test_bad_uploads_get_a_message_and_create_nothing(client, person, served_run, content, name, message):
    client.force_login(person)
    upload = io.BytesIO(content)
    upload.name = name
    response = client.post(reverse("sentiment:csv_upload"), {"file": upload})
    assert message in response.content.decode()
    assert not CsvClassification.objects.exists()


def test_a_too_large_upload_is_refused(client, person, served_run, settings):
    settings.MAX_UPLOAD_BYTES = 100
    client.force_login(person)
    upload = io.BytesIO(b"text\n" + b"a long review\n" * 20)
    upload.name = "big.csv"
    assert "larger than" in client.post(reverse("sentiment:csv_upload"), {"file": upload}).content.decode()
    assert not CsvClassification.objects.exists()


def test_people_never_see_another_persons_csv(client, person, staff, served_run):
    job = CsvClassification.objects.create(user=staff, filename="x.csv", upload="uploads/x.csv", total_rows=1)
    client.force_login(person)
    for name in ("sentiment:csv_detail", "sentiment:csv_status", "sentiment:csv_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404


def test_non_staff_are_refused_every_staff_action(client, person, finished_run):
    client.force_login(person)
    for name in ("sentiment:run_detail", "sentiment:run_progress"):
        assert client.get(reverse(name, args=[finished_run.pk])).status_code == 403
    for name in ("sentiment:run_cancel", "sentiment:run_promote"):
        assert client.post(reverse(name, args=[finished_run.pk])).status_code == 403
    launch = client.post(reverse("admin:sentiment_trainingrun_launch"), {"preset": "smoke"})
    assert launch.status_code == 302 and "/admin/login/" in launch.url
    assert TrainingRun.objects.count() == 1 and not finished_run.promotions.exists()


def test_the_launch_form_explains_every_term_and_refuses_impossible_values(client, staff):
    client.force_login(staff)
    page = client.get(reverse("admin:sentiment_trainingrun_launch")).content.decode()
    assert "Epochs: how many times training goes through the whole training set" in page
    assert "Weight decay:" in page and "Max length:" in page and "Batch size:" in page
    response = client.post(
        reverse("admin:sentiment_trainingrun_launch"),
        {"preset": "smoke", "train_batch_size": "0", "learning_rate": "3"},
    )
    page = response.content.decode()
    assert "train_batch_size must be between 1 and 4096" in page and "learning_rate must be above 0" in page
    assert not TrainingRun.objects.exists()


def test_a_launch_message_containing_a_semicolon_stays_whole_on_its_field(client, staff):
    """The learning_rate message itself contains '; ': it must not be split into a stray second error."""
    client.force_login(staff)
    response = client.post(reverse("admin:sentiment_trainingrun_launch"), {"preset": "smoke", "learning_rate": "5"})
    form = response.context["form"]
    [message] = form.errors["learning_rate"]
    assert message.startswith("learning_rate must be above 0") and "fine-tuning uses about 1e-5" in message
    assert form.non_field_errors() == [] and set(form.errors) == {"learning_rate"}
    assert not TrainingRun.objects.exists()


def test_staff_launch_a_run_and_see_its_page(client, staff, django_capture_on_commit_callbacks, queued_jobs):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:sentiment_trainingrun_launch"), {"preset": "smoke", "num_train_epochs": "2"}
        )
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("sentiment:run_detail", args=[run.pk])
    assert run.config["num_train_epochs"] == 2 and run.status == "queued"
    assert queued_jobs("training") == [("worker.tasks.train_run", [run.pk])] and queued_jobs("default") == []
    page = client.get(response.url).content.decode()
    assert "Queued" in page and "Cancel run" in page
    listing = client.get(reverse("admin:sentiment_trainingrun_changelist")).content.decode()
    assert reverse("sentiment:run_detail", args=[run.pk]) in listing and "Launch a training run" in listing


def test_staff_promote_from_the_run_page_with_a_reason(client, staff, finished_run):
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_detail", args=[finished_run.pk])).content.decode()
    assert reverse("sentiment:run_promote", args=[finished_run.pk]) in page
    refused = client.post(reverse("sentiment:run_promote", args=[finished_run.pk]), {"reason": " "})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert not finished_run.promotions.exists()
    response = client.post(
        reverse("sentiment:run_promote", args=[finished_run.pk]), {"reason": "good test scores"}, follow=True
    )
    assert "is now served" in response.content.decode() and "good" in response.content.decode()  # the history
    assert finished_run.promotions.get().reason == "good test scores"


# The pages that need a model: the one served, or while there is none, the run that trains the first one


def test_the_csv_page_names_the_served_model(client, person, served_run):
    client.force_login(person)
    page = client.get(reverse("sentiment:csv_upload")).content.decode()
    assert "No model is being served yet" not in page
    from django.utils.html import escape

    from sentiment.selectors.serving import served_model

    assert f"Answering with <strong>{escape(served_model().name)}</strong>" in page
    assert served_model().run == served_run


@pytest.fixture
def first_run(staff) -> TrainingRun:
    """The first run, a quarter of the way through its training, to be served when it succeeds."""
    from django.utils import timezone

    return TrainingRun.objects.create(
        preset="smoke", config={"base_model": "minilm", "learning_rate": 1e-4, "warmup_ratio": 0.1},
        status=TrainingRun.Status.RUNNING, step=75, max_steps=300, eta_seconds=630.0, eta_at=timezone.now(),
        promote_when_done=True, created_by=staff,
    )  # fmt: skip


def test_while_the_first_run_trains_the_pages_that_need_a_model_point_to_it_and_its_time_left(
    client, person, staff, first_run
):
    import re

    run_page = reverse("sentiment:run_detail", args=[first_run.pk])
    for who in (person, staff):
        client.force_login(who)
        for name in ("sentiment:classify", "sentiment:csv_upload"):
            page = " ".join(client.get(reverse(name)).content.decode().split())
            assert "is training the first one" in page and str(first_run) in page
            assert "25.0% of its training is done" in page  # step 75 of 300
            assert re.search(r"about 10 min (30|2[0-9]) s left", page), page  # 630 s, counted down since its report
            assert "It is served as soon as it succeeds" in page
            assert "Start a run from" not in page
            assert (run_page in page) == who.is_staff  # only staff may open a run's page


def test_when_the_first_run_is_scoring_the_pages_say_so(client, person, first_run):
    first_run.step = first_run.max_steps
    first_run.save()
    client.force_login(person)
    page = " ".join(client.get(reverse("sentiment:classify")).content.decode().split())
    assert "Its training is done and it is being scored" in page and "% of its training is done" not in page


def test_a_run_launched_without_promotion_is_pointed_to_as_one_staff_promote(client, person, first_run):
    first_run.promote_when_done = False
    first_run.save()
    client.force_login(person)
    page = " ".join(client.get(reverse("sentiment:classify")).content.decode().split())
    assert "is training the first one" in page and "When it succeeds, staff promote it from its page." in page


# Every page in the site's look: the runs list and the launch form, errors, the icon, the way back from the API docs


urlpatterns = None  # set below: this module is also the URL configuration of the 500 test


def _fails(request):
    raise RuntimeError("a bug")


def test_errors_are_pages_in_the_sites_look(client, person, finished_run, settings):
    from django.urls import path

    import webapp.urls

    global urlpatterns
    urlpatterns = [path("fails/", _fails), *webapp.urls.urlpatterns]
    settings.ROOT_URLCONF = __name__
    client.force_login(person)
    missing = client.get("/no/such/page/")
    forbidden = client.get(reverse("sentiment:run_detail", args=[finished_run.pk]))
    client.raise_request_exception = False
    broken = client.get("/fails/")
    for response, status, title in ((missing, 404, "Page not found"), (forbidden, 403, "Not allowed"),
                                    (broken, 500, "Something went wrong on our side")):  # fmt: skip
        page = response.content.decode()
        assert response.status_code == status
        assert f"<h1>{title}</h1>" in page and "sentiment/style.css" in page and 'class="site-header"' in page
        assert "Classify a review" in page or "Back to the start" in page
    assert "/no/such/page/" in missing.content.decode() and "Resolver404" not in missing.content.decode()
    assert "signed in as <strong>person</strong>" in forbidden.content.decode()
    assert "a bug" not in broken.content.decode()


def test_a_missing_object_is_named_for_people_not_by_its_model(client, person):
    client.force_login(person)
    page = client.get(reverse("sentiment:prediction_why", args=[999])).content.decode()
    assert "Page not found" in page and "matches the given query" not in page


def test_every_page_names_its_icon_and_favicon_ico_leads_to_it(client, person):
    from django.contrib.staticfiles import finders

    client.force_login(person)
    assert '<link rel="icon" href="/static/sentiment/favicon.svg"' in client.get(CLASSIFY).content.decode()
    icon = client.get("/favicon.ico")  # what a browser asks for on a page that names no icon (the admin's)
    assert icon.status_code == 302 and icon.url == "/static/sentiment/favicon.svg"
    assert finders.find("sentiment/favicon.svg")


def test_the_runs_list_and_the_launch_form_are_drawn_in_the_sites_look(client, staff, finished_run):
    client.force_login(staff)
    for url in (reverse("admin:sentiment_trainingrun_changelist"), reverse("admin:sentiment_trainingrun_launch")):
        page = client.get(url).content.decode()
        assert "sentiment/style.css" in page and 'class="site-header"' in page
        assert "admin/css/base.css" not in page  # not the Django admin's look
    listing = client.get(reverse("admin:sentiment_trainingrun_changelist")).content.decode()
    assert 'class="scroll"' in listing and 'id="result_list"' in listing  # a wide table scrolls in its own box
    assert 'name="_selected_action"' in listing and 'value="compare_runs"' in listing  # the admin's actions
    assert f'<td class="field-test_accuracy_display">{finished_run.test_accuracy:.3f}</td>' in listing


def test_the_api_page_shows_a_new_key_first_and_documents_version_1(client, person):
    client.force_login(person)
    client.post(reverse("sentiment:api_keys"), {"name": "my script"})
    page = client.get(reverse("sentiment:api_keys")).content.decode()
    assert page.index('id="new-key"') < page.index("<h2>Your keys</h2>") < page.index('<pre class="code">curl')
    assert 'href="/api/v1/docs"' in page and "/api/v1/classify" in page and "/api/v1/classify/batch" in page
    docs = client.get("/api/v1/docs").content.decode()
    assert f'href="{reverse("sentiment:api_keys")}" id="back-to-site"' in docs and "swagger-ui-bundle.js" in docs


# The run page's and the compare page's figures, as people read them and as their source says


LOG = (
    "2026-01-05 10:00:00,003 INFO ml.training.pipeline: training on cpu (2 threads) in bf16\n"
    "\rFilter:   0%|          | 0/33530 [00:00<?, ? examples/s]\n"
    "\rFilter: 100%|██████████| 33530/33530 [00:00<00:00, 3025319.73 examples/s]\n"
    "\n"
    "\rtokenizing:   0%|          | 0/300 [00:00<?, ? examples/s]\rtokenizing: 100%|██████████| 300/300\n"
    "Generating data split: 30000 examples [00:00, 218835.16 examples/s]\n"
    "\x1b[1mLOAD REPORT\x1b[0m from: minilm\n"
    "{'loss': '0.6923', 'grad_norm': '0.5768', 'learning_rate': '0', 'epoch': '0.05263'}\n"
)


@pytest.fixture
def training_run(staff) -> TrainingRun:
    """A run in its warm-up, as a real one is after its first report: the learning rate still 0."""
    from django.utils import timezone

    return TrainingRun.objects.create(
        preset="cpu", config={"base_model": "minilm", "learning_rate": 6e-5, "warmup_ratio": 0.1,
                              "num_train_epochs": 1, "train_batch_size": 16},
        status=TrainingRun.Status.RUNNING, step=8, max_steps=300, epoch=0.027, loss=0.6923477, learning_rate=0.0,
        eta_seconds=1400.0, eta_at=timezone.now(), history=[{"step": 1, "loss": 0.6923, "learning_rate": 0.0}],
        log_tail=LOG, created_by=staff,
    )  # fmt: skip


def test_the_run_page_shows_time_left_learning_rate_and_loss_as_people_read_them(client, staff, training_run):
    import re

    client.force_login(staff)
    page = " ".join(client.get(reverse("sentiment:run_detail", args=[training_run.pk])).content.decode().split())
    shown = client.get(reverse("sentiment:run_progress", args=[training_run.pk])).json()["shown"]
    # 1,400 s reported a moment ago: a duration, never raw seconds
    assert re.fullmatch(r"about 23 min [12]?[0-9] s", shown["time_left"]), shown["time_left"]
    assert f'<strong id="eta">{shown["time_left"]}</strong>' in page and "1400 s" not in page
    # warm-up: 0 now, rising to the configured 6e-05 over 10% of 300 steps
    assert shown["learning_rate"] == "0 (warm-up: it rises to 6e-05 over the first 30 steps)"
    assert f'<dd id="lr">{shown["learning_rate"]}</dd>' in page and "0.00<" not in page
    assert shown["learning_rate_peak"] == 6e-5  # the chart's scale: 0 to the peak
    assert shown["loss"] == "0.692" and '<dd id="loss">0.692</dd>' in page
    assert not shown["scoring"] and shown["phase"] == ""


def test_at_its_last_step_the_run_page_says_the_model_is_being_scored(client, staff, training_run):
    training_run.step, training_run.eta_seconds = training_run.max_steps, 298.0
    training_run.save()
    client.force_login(staff)
    shown = client.get(reverse("sentiment:run_progress", args=[training_run.pk])).json()["shown"]
    assert shown["scoring"] and shown["phase"].startswith("Training is done: the model is being scored now")
    assert "Time left: about 4 min 5" in shown["phase"] and "298 s" not in shown["phase"]
    page = " ".join(client.get(reverse("sentiment:run_detail", args=[training_run.pk])).content.decode().split())
    assert '<span id="eta-wrap" hidden>' in page and "the model is being scored now" in page


def test_an_ended_run_says_how_long_it_took_instead_of_a_time_left(client, staff, training_run):
    from datetime import timedelta

    from django.utils import timezone

    ended = timezone.now()
    TrainingRun.objects.filter(pk=training_run.pk).update(
        status=TrainingRun.Status.SUCCEEDED, started_at=ended - timedelta(seconds=278.4), finished_at=ended
    )
    client.force_login(staff)
    shown = client.get(reverse("sentiment:run_progress", args=[training_run.pk])).json()["shown"]
    assert shown["time_left"] == "none: it took 4 min 38 s"


def test_the_run_log_reads_as_a_terminal_shows_it_without_progress_bars(client, staff, training_run):
    client.force_login(staff)
    progress = client.get(reverse("sentiment:run_progress", args=[training_run.pk])).json()
    assert progress["log_tail"].splitlines() == [
        "2026-01-05 10:00:00,003 INFO ml.training.pipeline: training on cpu (2 threads) in bf16",
        "LOAD REPORT from: minilm",
        "{'loss': '0.6923', 'grad_norm': '0.5768', 'learning_rate': '0', 'epoch': '0.05263'}",
    ]
    page = client.get(reverse("sentiment:run_detail", args=[training_run.pk])).content.decode()
    assert '<pre id="log" class="log">2026-01-05 10:00:00,003 INFO' in page and "%|" not in page


def test_the_compare_page_shows_wall_time_as_a_duration(client, staff, finished_run):
    first = TrainingRun.objects.get(pk=finished_run.pk)
    first.metrics = {**finished_run.metrics, "wall_seconds": 278.4}
    first.save()
    second = TrainingRun.objects.create(preset="smoke", config=finished_run.config, status="succeeded",
                                        metrics={**finished_run.metrics, "wall_seconds": 46.0})  # fmt: skip
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_compare"), {"run": [first.pk, second.pk]}).content.decode()
    row = page[page.index("Wall time") :].split("</tr>")[0]
    assert "<td>4 min 38 s</td>" in row and '<td class="best">46 s</td>' in row and "278" not in row


# The launch form: a run of days says which preset suits the hardware, IMDb says it needs IMDB_DATA_DIR, and
# the live messages name the fields as the form does


ESTIMATE = reverse("admin:sentiment_trainingrun_estimate")


@pytest.fixture
def training_worker(finished_run):
    """A training worker with the CPU the shared tiny run measured its speed on."""
    from django.utils import timezone

    from sentiment.models import WorkerHost

    return WorkerHost.objects.create(
        hostname="celery@trainer", seen_at=timezone.now(),
        hardware={**finished_run.metrics["hardware"], "cores": 2, "memory_bytes": 64 * 2**30, "disk_free_bytes": 2**40},
    )  # fmt: skip


def test_a_run_of_days_on_a_cpu_is_told_which_presets_suit_a_cpu(
    client, staff, finished_run, training_worker, settings
):
    from sentiment.templatetags.figures import duration
    from tests.sentiment.test_estimates import tiny_settings

    settings.IMDB_DATA_DIR = None
    client.force_login(staff)
    found = client.get(ESTIMATE, {"preset": "tutorial"}).json()
    assert found["seconds"] > 2 * 86400  # bert-base on 25,000 reviews of 512 tokens, three times, on a CPU
    [long_run] = [text for text in found["warnings"] if text.startswith("A long run")]
    assert f"about {duration(found['seconds'])} on this worker's CPU" in long_run and " days " in long_run
    assert "start from the cpu preset" in long_run and "smoke" in long_run
    quick = client.get(ESTIMATE, tiny_settings(finished_run)).json()  # what the measured run took: seconds
    assert quick["seconds"] < 600 and not any(text.startswith("A long run") for text in quick["warnings"])


def test_imdb_runs_say_they_need_imdb_data_dir(client, staff, settings, synthetic_folder, tmp_path):
    client.force_login(staff)  # no training worker yet: no estimate, but what the data needs is known
    settings.IMDB_DATA_DIR = None
    found = client.get(ESTIMATE, {"preset": "cpu"}).json()
    assert "unavailable" in found and "IMDb needs IMDB_DATA_DIR: it is not set" in " ".join(found["warnings"])
    settings.IMDB_DATA_DIR = str(tmp_path)  # a folder without the files
    found = client.get(ESTIMATE, {"preset": "cpu"}).json()
    assert f"{tmp_path} is not" in " ".join(found.get("warnings", [])), found
    settings.IMDB_DATA_DIR = str(synthetic_folder)  # train.parquet and test.parquet
    assert "warnings" not in client.get(ESTIMATE, {"preset": "cpu"}).json()
    settings.IMDB_DATA_DIR = None
    assert "warnings" not in client.get(ESTIMATE, {"preset": "smoke"}).json()  # the bundled demo data


def test_the_live_messages_name_the_fields_as_the_form_labels_them(client, staff):
    client.force_login(staff)
    found = client.get(ESTIMATE, {"preset": "smoke", "num_train_epochs": "0", "learning_rate": "5"}).json()
    message = found["unavailable"]
    assert "Num train epochs must be above 0 and at most 100 (got 0.0): it is how many passes" in message
    assert "Learning rate must be above 0 and below 1 (got 5.0)" in message
    assert "num_train_epochs" not in message and "learning_rate" not in message
    assert "pre-trained weights. " in message or message.endswith("pre-trained weights.")  # one sentence each


def test_the_why_page_lists_the_strongest_words_as_the_explanation_weighs_them(
    client, person, served_run, analyses_done
):
    """Each word with its push as the explanation computed it, strongest first, and no word that did not push
    (a weight that would show as +0.000)."""
    import re

    from sentiment.services.classify import prediction_explanation_compute, review_classify
    from sentiment.templatetags.figures import signed

    client.force_login(person)
    prediction = review_classify(user=person, text="A dull, boring plot but a brilliant, superb cast.")
    client.get(reverse("sentiment:prediction_why", args=[prediction.pk]))
    analyses_done()
    page = client.get(reverse("sentiment:prediction_why", args=[prediction.pk])).content.decode()
    top = prediction_explanation_compute(prediction=prediction)["top"]  # worked out again, here
    for side in ("positive", "negative"):
        section = page[page.index(f'id="strongest-{side}"') :].split("</div>")[0]
        listed = re.findall(r"<li>“(.*?)” <span class=\"muted\">(.*?)</span></li>", section)
        assert listed == [(word, signed(weight)) for word, weight in top[side]]
        assert all(weight != "+0.000" and weight != "−0.000" for _, weight in listed)
        if not listed:
            assert f"No word pushed the answer towards {side}" in section


def test_a_form_sent_without_its_token_gets_the_sites_page_and_changes_nothing(person, served_run):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(person)
    response = client.post(CLASSIFY, {"text": "A fine film."})
    page = response.content.decode()
    assert response.status_code == 403 and "The form could not be sent" in page and "sentiment/style.css" in page
    assert not Prediction.objects.exists()
