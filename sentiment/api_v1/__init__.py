"""Version 1 of the JSON API (``/api/v1/``): everything a person does on the site, a program can do.

- ``site``: the NinjaAPI (parser, authentication, error handlers) and its routers;
- ``predictions``: classify one review or a batch, the caller's predictions and their feedback;
- ``csv_jobs``: CSV files classified by the worker: upload, progress, the result;
- ``keys``: who the caller is, and their API keys;
- ``schemas``, ``errors``, ``auth``, ``bodies``: what it reads and answers, its error shape, who is calling,
  the guards on a JSON body.

The OpenAPI schema is generated from this code and committed as ``docs/openapi.json``
(``manage.py export_openapi_schema --api sentiment.api_v1.site.api``); a test fails when they differ.
"""
