"""gunicorn settings for the web service (``gunicorn -c webapp/gunicorn.conf.py webapp.wsgi``).

Each worker process loads the served model before it accepts its first request, so nobody waits for a
model load after a deploy or restart; later promotions load in the background (sentiment.services.serving).
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
# 1 thread per worker (the sync worker): measured ~12 ms faster per answer than 2 threads (bench/RESULTS.md)
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = 120
accesslog = "-"


def post_worker_init(worker):
    import torch

    from ml.hardware import cpu_cores
    from sentiment.services.serving import serving_warm_up

    # Each worker computes on its share of the cores. Without this every worker's PyTorch uses all of
    # them, and under load the workers' busy-waiting compute threads crowd each other out: with 2 workers
    # on 2 cores that fell to ~4 answers/s (bench/RESULTS.md), against ~56 with one core each.
    share = max(1, cpu_cores() // worker.cfg.workers)
    torch.set_num_threads(int(os.environ.get("WEB_TORCH_THREADS", "0")) or share)
    serving_warm_up()
