# Herald: one image for every role (serve, worker, run-once, db upgrade, doctor).
#   docker build -t herald .
#   docker run --rm herald --help
# The role is the command: the default is `herald serve`; compose.yaml and the Helm chart
# in deploy/helm/herald run the others. Linted by hadolint in the tests
# (tests/unit/test_deploy.py); see docs/deploy.md for what was and was not run here.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY herald ./herald
# A virtualenv holding Herald and its dependencies, copied whole into the final image.
RUN python -m venv /opt/herald \
    && /opt/herald/bin/pip install --no-cache-dir . \
    && /opt/herald/bin/herald --version

FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="Herald" \
      org.opencontainers.image.description="Self-hosted social media post scheduler" \
      org.opencontainers.image.licenses="MIT"
# A fixed, unprivileged user: the Helm chart's securityContext and file modes name its ids.
RUN groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid herald --no-create-home \
       --home-dir /var/lib/herald --shell /usr/sbin/nologin herald \
    && mkdir -p /var/lib/herald/media \
    && chown -R herald:herald /var/lib/herald
COPY --from=build /opt/herald /opt/herald
ENV PATH=/opt/herald/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HERALD_HOST=0.0.0.0 \
    HERALD_PORT=8000 \
    HERALD_MEDIA_DIR=/var/lib/herald/media
WORKDIR /var/lib/herald
USER 10001:10001
EXPOSE 8000
VOLUME ["/var/lib/herald/media"]
# The API's own health route; compose.yaml turns it off for the roles that serve no HTTP.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["herald"]
CMD ["serve"]
