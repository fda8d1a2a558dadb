"""The served model of a process: loaded once, swapped in the background, on the runtime measured fastest."""

import shutil

import pytest
from django.core.exceptions import ValidationError

from ml.core_share import CoreShare
from sentiment.models import Promotion, ServingState, TrainingRun
from sentiment.selectors.serving import training_run_serving_runtime
from sentiment.services import serving
from sentiment.services.classify import review_classify
from sentiment.services.promotions import training_run_promote
from sentiment.services.serving import NoModelServed, serving_slot

pytestmark = pytest.mark.django_db


def a_copy_of(run: TrainingRun) -> TrainingRun:
    copy = TrainingRun.objects.get(pk=run.pk)
    copy.pk = None
    copy.save()
    return copy


def test_nothing_served_is_a_clear_error():
    with pytest.raises(NoModelServed):
        serving_slot.get()


def test_the_first_request_loads_the_served_model_and_later_ones_reuse_it(served_run):
    first = serving_slot.get()
    assert first.served.run == served_run and first.predictor.model_dir.name == "model"
    assert serving_slot.get() is first


def test_a_promotion_is_loaded_in_the_background_while_the_old_model_answers(served_run, staff):
    old = serving_slot.get()
    newer = a_copy_of(served_run)
    Promotion.objects.create(run=newer, promoted_by=staff)
    assert serving_slot.get() is old  # answered at once, by the model already loaded
    serving_slot.wait_for_load(timeout=60)
    assert serving_slot.get().served.run == newer


def test_a_batch_job_waits_for_the_newest_model(served_run, staff):
    serving_slot.get()
    newer = a_copy_of(served_run)
    Promotion.objects.create(run=newer, promoted_by=staff)
    assert serving_slot.get(wait=True).served.run == newer


def test_auto_serves_the_runtime_the_serving_check_measured_fastest(finished_run, settings):
    settings.SERVE_RUNTIME, settings.INT8_MAX_ACCURACY_LOSS = "auto", 0.5
    check = finished_run.metrics["serving"]["runtimes"]
    fastest = min((name for name in check if check[name]["accuracy_loss_points"] <= 0.5),
                  key=lambda name: (check[name]["ms_per_review"], name != "pytorch"))  # fmt: skip
    assert training_run_serving_runtime(run=finished_run) == fastest
    finished_run.metrics = {"int8": {"accuracy_loss_points": 0.1, "speedup": 2.0}}  # checked before ONNX
    assert training_run_serving_runtime(run=finished_run) == "pytorch"
    settings.SERVE_RUNTIME = "onnx-fp32"
    assert training_run_serving_runtime(run=finished_run) == "onnx-fp32"


@pytest.mark.parametrize("runtime", ["onnx-int8", "onnx-fp32", "pytorch", "pytorch-int8"])
def test_the_answer_comes_from_the_runtime_served_and_says_so(served_run, staff, settings, runtime):
    settings.SERVE_RUNTIME = runtime
    assert serving_slot.get().predictor.runtime == runtime
    prediction = review_classify(user=staff, text="A warm, funny and moving film.")
    assert prediction.runtime == runtime and prediction.label in {"positive", "negative"}


def test_forcing_onnx_for_a_model_never_exported_is_refused_at_promotion(finished_run, staff, tmp_path, settings):
    settings.SERVE_RUNTIME = "onnx-int8"
    unexported = a_copy_with_a_model(finished_run, tmp_path, damage=lambda model: shutil.rmtree(model / "onnx"))
    with pytest.raises(ValidationError, match=r"has no ONNX export.*export_onnx"):
        training_run_promote(run=unexported, user=staff, reason="a test promotion")


def test_the_run_page_shows_the_serving_check_and_the_runtime_served(client, staff, finished_run, settings):
    settings.SERVE_RUNTIME = "auto"
    client.force_login(staff)
    page = client.get(f"/runs/{finished_run.pk}/").content.decode()
    served = training_run_serving_runtime(run=finished_run)
    assert "the runtime check" in page and f'<strong id="served-runtime">{served}</strong>' in page
    for name, scores in finished_run.metrics["serving"]["runtimes"].items():
        assert f"<code>{name}</code>" in page and f"{scores['ms_per_review']} ms" in page


def test_an_answer_is_computed_on_the_share_of_cores_of_a_process_that_shares_them(served_run, staff, monkeypatch):
    share = CoreShare(slots=2, cores=2)
    monkeypatch.setattr(serving, "_core_share", None)
    assert serving.share_cores(share)
    predictor = serving_slot.get().predictor
    seen = []
    real_predict = predictor.predict

    def predict(texts, **options):
        seen.append((share.busy_processes(), options.get("cores")))
        return real_predict(texts, **options)

    monkeypatch.setattr(predictor, "predict", predict)
    review_classify(user=staff, text="A warm, funny and moving film.")
    assert seen == [(1, 2)] and share.busy_processes() == 0


def a_copy_with_a_model(run: TrainingRun, folder, damage) -> TrainingRun:
    """A run whose model folder is a copy of ``run``'s, then ``damage(model folder)``d (a disk fault)."""
    model = folder / "model"
    shutil.copytree(run.model_dir, model)
    damage(model)
    copy = a_copy_of(run)
    copy.model_dir = str(model)
    copy.save()
    return copy


def a_copy_with_a_damaged_model(run: TrainingRun, folder) -> TrainingRun:
    """A run whose model folder looks complete but whose weights are not a model."""

    def damage(model):
        (model / "model.safetensors").write_bytes(b"not a model")
        (model / "onnx" / "model-int8.onnx").write_bytes(b"not a model")
        (model / "onnx" / "model.onnx").write_bytes(b"not a model")

    return a_copy_with_a_model(run, folder, damage)


def test_a_model_that_does_not_load_is_refused_at_promotion(finished_run, staff, tmp_path):
    damaged = a_copy_with_a_damaged_model(finished_run, tmp_path)
    with pytest.raises(ValidationError, match="does not load"):
        training_run_promote(run=damaged, user=staff, reason="a test promotion")
    assert not Promotion.objects.exists()


def test_a_served_model_that_stops_loading_is_retried_after_a_pause_not_on_every_request(served_run, staff, tmp_path):
    old = serving_slot.get()
    damaged = a_copy_with_a_damaged_model(served_run, tmp_path)
    Promotion.objects.create(run=damaged, promoted_by=staff)  # damaged after it was promoted
    assert serving_slot.get() is old  # the old model answers while the new one is tried in the background
    serving_slot.wait_for_load(timeout=60)
    attempt = serving_slot._loading
    for _ in range(3):
        assert serving_slot.get() is old
    assert serving_slot._loading is attempt  # no new load started during the pause
    serving_slot.reset()  # a new process: nothing loaded yet
    with pytest.raises(NoModelServed, match="could not be loaded"):
        serving_slot.get()
    with pytest.raises(NoModelServed, match="tried again in"):
        serving_slot.get()  # answered at once, without loading again


@pytest.mark.django_db(transaction=True)
def test_two_promotions_at_once_each_record_the_model_they_really_replaced(staff, finished_run, monkeypatch):
    import threading
    import time

    from django.db import connection

    from sentiment.services import promotions

    training_run_promote(run=finished_run, user=staff, reason="the first model served")
    a, b = (
        TrainingRun.objects.create(preset="smoke", config=finished_run.config, status="succeeded",
                                   output_dir=finished_run.output_dir, model_dir=finished_run.model_dir)
        for _ in range(2)
    )  # fmt: skip
    figures = promotions._figures

    def slow_figures(run, replaced, evidence):  # the first promotion takes a while inside its transaction
        if run.pk == a.pk:
            time.sleep(1.0)
        return figures(run, replaced, evidence)

    monkeypatch.setattr(promotions, "_figures", slow_figures)

    def promote(run):
        try:
            training_run_promote(run=run, user=staff, reason="promoted at the same moment")
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(run,)) for run in (a, b)]
    threads[0].start()
    time.sleep(0.3)  # b starts while a's promotion is under way
    threads[1].start()
    for thread in threads:
        thread.join()
    newest, middle, oldest = Promotion.objects.all()
    assert (oldest.run, middle.run, newest.run) == (finished_run, a, b)
    assert (middle.replaced, newest.replaced) == (finished_run, a)  # each the model it really replaced
    assert ServingState.objects.get().promotion == newest == Promotion.objects.first()
