# One image for the web process and the workers (docker-compose.yml picks the command).
# torch: by default pip takes PyPI's torch==2.13.0, the CUDA build, which the GPU worker needs. For a
# host without an NVIDIA GPU, build with TORCH_INDEX_URL set to PyTorch's CPU wheel index (see README):
# a much smaller image.
FROM python:3.11-slim

ARG TORCH_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN if [ -n "$TORCH_INDEX_URL" ]; then pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0; fi \
 && pip install -r requirements.txt -c constraints.txt

COPY manage.py ./
COPY webapp ./webapp
COPY sentiment ./sentiment
COPY ml ./ml
COPY worker ./worker

# State lives on volumes under /data (see docker-compose.yml); static files are part of the image.
ENV DJANGO_SETTINGS_MODULE=webapp.settings_production \
    VAR_DIR=/data \
    RUNS_DIR=/data/runs \
    MEDIA_ROOT=/data/media \
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
