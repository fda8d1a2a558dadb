"""Writes: every write to the database goes through a function of these modules (named ``<thing>_<action>``),
imported from the module that defines it.

- ``runs``: training runs, their lifecycle and promotion to serving;
- ``classify``: single reviews classified with the served model;
- ``csv_jobs``: CSV uploads classified by the worker, a slice at a time, under a lease;
- ``feedback``: people's corrections of their answers, and staff's review of them;
- ``datasets``: labelled data sets staff upload to train on, checked and saved as a folder a run reads;
- ``checks``: behavioural checks of a finished model, run again on demand;
- ``analysis``: heavy reading (explanations, evidence, checks) done by a worker as a job, never a page;
- ``storage``: a quota of stored bytes per person, the retention, files deleted with their rows;
- ``sweep``: jobs left behind by a dead worker or an absent broker, picked up again;
- ``promotions``: serving a run's model, with who, why and the evidence, in the audit trail;
- ``serving``: the model each process answers with, swapped in the background on promotion;
- ``api_tokens``: keys for the JSON API;
- ``idempotency``: API requests sent again with the same ``Idempotency-Key`` create nothing new;
- ``accounts``: the first administrator of a new deployment;
- ``workers``: the hardware each training worker reported when it started.
"""
