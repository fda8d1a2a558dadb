"""The launch form: basics first, the preset's values shown, and a live estimate of time and memory on the
training worker's hardware, kept with the run and set beside what it took."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from ml.presets import PRESETS
from sentiment.forms import TrainingLaunchForm
from sentiment.models import TrainingRun, WorkerHost
from sentiment.selectors import estimates

pytestmark = pytest.mark.django_db
ESTIMATE = reverse("admin:sentiment_trainingrun_estimate")
LAUNCH = reverse("admin:sentiment_trainingrun_launch")


@pytest.fixture
def worker(finished_run):
    """A training worker with the hardware the shared tiny run was trained on."""
    hardware = finished_run.metrics["hardware"]
    return WorkerHost.objects.create(
        hostname="celery@trainer",
        hardware={**hardware, "cores": 2, "memory_bytes": 8 * 2**30, "disk_free_bytes": 40 * 2**30},
        seen_at=timezone.now(),
    )


def tiny_settings(finished_run, **overrides) -> dict:
    config = {
        key: value
        for key, value in finished_run.config.items()
        if key not in TrainingLaunchForm.RUN_DECIDES and value not in (None, "")
    }
    config["base_model"] = finished_run.model_dir  # a local folder: its config.json gives the shape
    config["data_folder"] = config.pop("dataset")
    return {
        "preset": "smoke",
        **{k: str(v).lower() if isinstance(v, bool) else v for k, v in config.items()},
        **overrides,
    }


def test_without_a_training_worker_the_estimate_says_why(client, staff):
    client.force_login(staff)
    found = client.get(ESTIMATE, {"preset": "smoke"}).json()
    assert found == {"unavailable": "No training worker has reported its hardware yet (is one running?)."}


def test_the_estimate_scales_the_speed_a_run_measured_on_the_same_hardware(client, staff, finished_run, worker):
    client.force_login(staff)
    found = client.get(ESTIMATE, tiny_settings(finished_run)).json()
    took = finished_run.metrics["seconds"]
    assert found["seconds"] == pytest.approx(took["total"], rel=0.05)  # the same settings: what it took
    assert f"run #{finished_run.pk}" in found["basis"]
    assert found["worker"].startswith("celery@trainer: cpu") and found["memory_bytes"] == 8 * 2**30
    epochs = finished_run.config["num_train_epochs"]
    twice = client.get(ESTIMATE, tiny_settings(finished_run, num_train_epochs=2 * epochs)).json()
    assert twice["phases"]["train"] == pytest.approx(2 * found["phases"]["train"], abs=0.15)  # to 0.1 s


def test_a_run_that_does_not_fit_the_worker_is_warned_before_launch(client, staff, finished_run, worker):
    worker.hardware = {**worker.hardware, "memory_bytes": 2**30}
    worker.save()
    client.force_login(staff)
    found = client.get(ESTIMATE, {"preset": "smoke", "train_batch_size": 512, "max_length": 512}).json()
    assert found["warnings"][0].startswith("This run will not fit") and "1.0 GiB" in found["warnings"][0]


def test_settings_that_do_not_validate_get_no_estimate_but_the_reason(client, staff, worker):
    client.force_login(staff)
    found = client.get(ESTIMATE, {"preset": "smoke", "learning_rate": "5"}).json()
    assert found["unavailable"].startswith("Fix the settings first:") and "learning" in found["unavailable"].lower()


def test_the_estimate_is_for_staff_only(client, person):
    client.force_login(person)
    assert client.get(ESTIMATE, {"preset": "smoke"}).status_code == 302  # to the admin's sign-in


def test_the_form_puts_the_basics_first_and_shows_each_presets_values(client, staff, worker):
    client.force_login(staff)
    page = client.get(LAUNCH).content.decode()
    basics, advanced = page.index("The basics"), page.index("Advanced:")
    assert basics < page.index('name="learning_rate"') < advanced < page.index('name="max_length"')
    values = json.loads(page.split('<script id="preset-values" type="application/json">')[1].split("</script>")[0])
    assert set(values) == set(PRESETS)
    assert values["smoke"]["max_length"] == 256 and values["tutorial"]["max_length"] == 512
    assert values["smoke"]["dropout"] == 0.0 and values["tutorial"]["dropout"] is None
    assert "output_dir" not in values["smoke"]  # the run decides it, so the form does not offer it


def test_a_launch_keeps_the_estimate_and_the_run_page_sets_it_beside_what_it_took(
    client, staff, finished_run, worker, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(LAUNCH, tiny_settings(finished_run))
    run = TrainingRun.objects.exclude(pk=finished_run.pk).get()
    assert run.estimate["seconds"] == pytest.approx(finished_run.metrics["seconds"]["total"], rel=0.05)
    run.status, run.metrics = TrainingRun.Status.SUCCEEDED, finished_run.metrics
    run.save()
    check = estimates.training_run_estimate_check(run=run)
    assert check["took_seconds"] == finished_run.metrics["seconds"]["total"]
    assert abs(check["time_error"]) < 0.05
    page = client.get(reverse("sentiment:run_detail", args=[run.pk])).content.decode()
    assert "Estimated at launch" in page and "the estimate was" in page


def test_an_uploaded_data_set_is_estimated_from_its_own_size_and_lengths():
    from ml.config import TrainingConfig
    from ml.training.run_measures import WORD_EDGES
    from sentiment.models import LabelledDataset

    counts = [0] * (len(WORD_EDGES) - 1)
    counts[1] = 1000  # 1,000 reviews of 25 to 50 words: far shorter than IMDb's
    uploaded = LabelledDataset.objects.create(
        name="short", filename="short.csv", folder="/data/short", rows=1000,
        stats={"split": {"train": 800, "test": 200}, "words": {"edges": WORD_EDGES, "counts": counts}},
    )  # fmt: skip
    alone = estimates.data_shape(TrainingConfig(dataset=uploaded.folder))
    assert (alone.train, alone.test) == (800, 200) and alone.mean_tokens(512) < 60
    added = estimates.data_shape(TrainingConfig(dataset="imdb", added_data=uploaded.folder))
    assert (added.train, added.test, added.added_train, added.added_test) == (25_000, 25_000, 800, 200)
    assert added.mean_tokens(512) > 250  # IMDb's own reviews set the length


def test_the_estimate_counts_the_reviews_and_steps_the_run_really_had(client, staff, finished_run, worker):
    """Recomputed from the source: the run's own record of what it read and the steps it took."""
    client.force_login(staff)
    reviews = client.get(ESTIMATE, tiny_settings(finished_run)).json()["reviews"]
    sizes = finished_run.metrics["data"]["sizes"]
    assert (reviews["train"], reviews["validation"], reviews["test"]) == (
        sizes["train"],
        sizes["validation"],
        sizes["test"],
    )
    assert reviews["steps"] == finished_run.metrics["train"]["steps"]
