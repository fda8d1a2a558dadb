"""gunicorn settings for the web service (``gunicorn -c webapp/gunicorn.conf.py webapp.wsgi``).

Each worker process loads the served model before it accepts its first request, so nobody waits for a
model load after a deploy or restart; later promotions load in the background (sentiment.services.serving).
"""

import os

from ml.core_share import CoreShare
from sentiment.metrics.folder import metrics_folder_prepare, metrics_folder_remove, metrics_process_dead
from webapp.logging_config import gunicorn_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

# this machine only, unless told otherwise (the compose stack binds 0.0.0.0 inside its own network)
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
# 1 thread per worker (the sync worker): measured ~12 ms faster per answer than 2 threads (bench/RESULTS.md)
threads = int(os.environ.get("WEB_THREADS", "1"))
# The sync worker, made to answer every connection that was waiting when a graceful stop came, instead of
# leaving the kernel to reset them (webapp/draining_worker.py): a replica restarted under load loses nothing.
worker_class = "webapp.draining_worker.DrainingSyncWorker"
timeout = 120
# No access log: the site logs one line per request itself, with its request id (webapp/request_log.py), and
# gunicorn's own lines take the site's format (LOG_FORMAT).
accesslog = None
logconfig_dict = gunicorn_logging()

# Which workers are computing an answer, in memory shared by the workers forked from here. A worker that
# computes alone uses every core; two at once get half each (ml.core_share.CoreShare, bench/RESULTS.md),
# whichever runtime serves. WEB_CORES=N instead fixes the cores of each worker's answers at N.
FIXED_CORES = int(os.environ.get("WEB_CORES", "0"))
core_share = None if FIXED_CORES else CoreShare()
if core_share is not None:
    # PyTorch's OpenMP threads (when PyTorch serves) sleep as soon as an operation ends instead of
    # spinning for more work: when a worker alone on both cores is joined by a second one, spinning
    # threads would slow the newcomer (under load, 32-36 against 38-41 answers/s with passive threads; no
    # cost to a lone answer). ONNX Runtime's threads spin only during an answer that has every core, and
    # stop as it ends (ml.serving.onnx_inference.session_open).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Prometheus (README, "Metrics"): every worker process writes its figures to files in one folder, which
# /metrics adds up whichever worker answers the scrape. Set here, before any worker imports prometheus_client;
# PROMETHEUS_MULTIPROC_DIR names it (emptied now), else a temporary folder is made and removed at exit.
metrics_folder, metrics_folder_made = metrics_folder_prepare()


def post_worker_init(worker):
    from ml.hardware import cpu_cores
    from sentiment.services.serving import fix_cores, serving_warm_up, share_cores

    if core_share is None or not share_cores(core_share):
        fix_cores(FIXED_CORES or max(1, cpu_cores() // worker.cfg.workers))
    serving_warm_up()


def child_exit(server, worker):
    if core_share is not None:
        core_share.leave(worker.pid)  # a worker killed mid-answer no longer counts as busy
    metrics_process_dead(worker.pid)  # its live gauges stop counting; its counters still add up


def on_exit(server):
    if metrics_folder_made:
        metrics_folder_remove(metrics_folder)
