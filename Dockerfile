# paindiary API image: slim base, pinned dependencies, non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAINDIARY_DATABASE_URL=sqlite:////data/paindiary.db

WORKDIR /app
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install -c constraints.txt -e . \
    && useradd --system --uid 10001 --home-dir /app paindiary \
    && mkdir -p /data && chown paindiary /data

USER paindiary
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# PAINDIARY_SECRET_KEY must be provided at run time (docker run -e PAINDIARY_SECRET_KEY=...).
CMD ["paindiary", "serve", "--host", "0.0.0.0", "--port", "8000"]
