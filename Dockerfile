# The platform image: the same locked environment as the native stack (uv.lock).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/drp/venv \
    PATH=/opt/drp/venv/bin:$PATH \
    DRP_STATE_DIR=/opt/drp/state \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DO_NOT_TRACK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends git libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv==0.13.9 \
    && useradd --create-home --uid 50000 drp

WORKDIR /opt/drp/app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev \
    && mkdir -p /opt/drp/state && chown -R drp /opt/drp/state /opt/drp/app

USER drp
CMD ["drp", "--help"]
