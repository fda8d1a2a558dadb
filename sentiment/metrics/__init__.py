"""Figures for Prometheus (README, "Metrics"): what the code counts as it works, what is read at each
scrape, and how both are served.

- ``families``: every figure the code counts (predictions, the model's time, CSV rows, analyses, tasks),
  defined once; the services call its ``*_count`` functions, one line each;
- ``scrape``: what is read afresh at each scrape of the web side (queue lengths from the broker, runs and
  analyses from the database, free space on the runs volume, the served model, the model monitor's
  gauges through ``monitor_gauges_register``);
- ``exposition``: the token rule, ``/metrics`` on the web side and the workers' own metrics port;
- ``folder``: the folder where the processes of one server (gunicorn's workers, a Celery worker's pool)
  write their figures, which a scrape adds up (prometheus_client's multiprocess mode).
"""
