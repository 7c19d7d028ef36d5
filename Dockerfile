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

# The compose stack runs the tooling (`drp airflow …`) and the generator from this image, so it takes
# every group but dev. A worker that only runs tasks needs the runtime alone:
#   docker build --build-arg DRP_UV_GROUPS=--no-default-groups .
ARG DRP_UV_GROUPS=--no-dev
WORKDIR /opt/drp/app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen ${DRP_UV_GROUPS} --no-install-project
COPY . .
RUN uv sync --frozen ${DRP_UV_GROUPS} \
    && mkdir -p /opt/drp/state && chown -R drp /opt/drp/state /opt/drp/app

USER drp
CMD ["drp", "--help"]
