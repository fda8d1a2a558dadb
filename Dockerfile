# The images the compose stack builds, as stages of one file (docker-compose.yml picks the target):
#   proxy  Caddy in front of the site: HTTPS (a real certificate for a domain, a local one otherwise),
#          HTTP redirected, request bodies limited and buffered (webapp/Caddyfile).
#   app    (the last stage, what a plain `docker build .` makes) the web process and the workers.
# Both start from python:3.11-slim, so the stack needs no base images beyond it, redis and postgres.

FROM python:3.11-slim AS proxy
# Caddy 2.11 from its release binaries (webapp/proxy-requirements.txt says why not Debian's 2.6.2).
COPY webapp/proxy-requirements.txt /tmp/proxy-requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/proxy-requirements.txt \
 && caddy version \
 && useradd --create-home --uid 1000 caddy-user \
 && mkdir -p /data /config && chown caddy-user /data /config
COPY webapp/Caddyfile /etc/caddy/Caddyfile
# Caddy keeps its certificates and its local certificate authority under /data (a volume).
ENV XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config
USER caddy-user
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]

FROM python:3.11-slim AS app
# torch: by default pip takes PyPI's torch==2.13.0, the CUDA build, which the GPU worker needs. For a host
# without an NVIDIA GPU, set TORCH_INDEX_URL to where the CPU build is: PyTorch's CPU wheel index, a local
# index, or a folder of wheels served over HTTP (python3 -m http.server). Only torch comes from there;
# everything else from the usual index, pinned by constraints.txt.
ARG TORCH_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
      pip install --no-deps --index-url "$TORCH_INDEX_URL" --find-links "$TORCH_INDEX_URL" torch==2.13.0; fi
COPY requirements.txt constraints.txt ./
RUN pip install -r requirements.txt -c constraints.txt

COPY manage.py ./
COPY webapp ./webapp
COPY sentiment ./sentiment
COPY ml ./ml
COPY worker ./worker

# The one place that lays out the container: state on the volume at /data (runs and media are folders
# of VAR_DIR, see webapp/settings.py), static files inside the image.
ENV DJANGO_SETTINGS_MODULE=webapp.settings_production \
    VAR_DIR=/data \
    HF_HOME=/data/hf-cache \
    STATIC_ROOT=/app/staticfiles
RUN SECRET_KEY=build-time-only-key-used-for-collectstatic-and-nothing-else-0123456789 \
    python manage.py collectstatic --noinput \
 && useradd --create-home --uid 1000 app \
 && mkdir -p /data/runs /data/media /data/hf-cache \
 && chown -R app /data
USER app

EXPOSE 8000
CMD ["gunicorn", "-c", "webapp/gunicorn.conf.py", "webapp.wsgi"]
