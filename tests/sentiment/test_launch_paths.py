"""A run launched from the site reads only the folders the operator allowed (DATA_ROOTS), symbolic links
resolved: staff cannot point the worker at another folder of the machine."""

import pytest
from django.urls import reverse

from sentiment.models import TrainingRun

pytestmark = pytest.mark.django_db
LAUNCH = reverse("admin:sentiment_trainingrun_launch")


@pytest.fixture
def allowed(tmp_path, settings):
    root = tmp_path / "allowed"
    (root / "reviews").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "model" / "config.json").write_text("{}")
    settings.DATA_ROOTS = [str(root)]
    return root


def launch(client, **fields):
    page = client.post(LAUNCH, {"preset": "smoke", **fields})
    return page, page.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("data_folder", "/etc", "outside the folders runs may read"),
        ("data_folder", "../../..", "must be an absolute path"),
        ("data_folder", "~", "outside the folders runs may read"),
        ("base_model", "/usr", "outside the folders runs may read"),
    ],
)
def test_a_folder_outside_the_allowed_roots_is_refused_and_nothing_is_launched(
    client, staff, allowed, field, value, message
):
    client.force_login(staff)
    page, body = launch(client, **{field: value})
    assert page.status_code == 200 and message in body
    assert not TrainingRun.objects.exists()


def test_a_link_inside_an_allowed_root_that_leads_out_of_it_is_refused(client, staff, allowed, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (allowed / "innocent").symlink_to(outside, target_is_directory=True)
    client.force_login(staff)
    _, body = launch(client, data_folder=str(allowed / "innocent"))
    assert "outside the folders runs may read" in body and not TrainingRun.objects.exists()
    _, body = launch(client, data_folder=str(allowed / "reviews" / ".." / ".." / "elsewhere"))
    assert "outside the folders runs may read" in body and not TrainingRun.objects.exists()


def test_folders_inside_the_roots_and_names_that_are_not_paths_pass_the_check(client, staff, allowed):
    from sentiment.files.data_roots import local_path_refusal

    assert local_path_refusal(str(allowed / "reviews"), what="x") == ""
    assert local_path_refusal(str(allowed / "model"), what="x") == ""
    for name in ("imdb", "demo", "minilm", "bert-base-uncased", "google-bert/bert-base-uncased", ""):
        assert local_path_refusal(name, what="x") == "", name
