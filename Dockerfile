# flext-meltano: `flext serve` by default, `flext run JOB` when told to.
#
#   docker build -t flext-meltano .
#   docker run -p 8080:8080 -e FLEXT_SERVE_TOKEN=... -e FLEXT_ORACLE_... flext-meltano
#   docker run -e ... flext-meltano run incremental-sync-job
#
# Not built in CI. Two stages: pip and its build leftovers stay in the first; the
# final image holds the virtualenv, the Meltano project and its plugin venvs.
ARG PYTHON=3.11

FROM python:${PYTHON}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /project
COPY pyproject.toml README.md ./
COPY flext_infra flext_infra
COPY tap_flext_api tap_flext_api
COPY target_flext_oracle target_flext_oracle
RUN python -m venv /opt/flext \
 && /opt/flext/bin/pip install ".[serve]" "meltano~=4.4.0" uv
# The Meltano project; `meltano install` builds the plugins' virtualenvs
# (pip_url `-e .`, so the source stays in /project).
COPY meltano.yml ./
COPY plugins plugins
COPY config config
RUN PATH=/opt/flext/bin:$PATH meltano install

FROM python:${PYTHON}-slim
RUN useradd --create-home --uid 10001 flext
COPY --from=build --chown=flext:flext /opt/flext /opt/flext
COPY --from=build --chown=flext:flext /project /project
WORKDIR /project
USER flext
ENV PATH=/opt/flext/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FLEXT_ENVIRONMENT=production \
    FLEXT_SERVE_HOST=0.0.0.0 \
    FLEXT_SERVE_PORT=8080 \
    FLEXT_DATA_DIR=/project/.flext
EXPOSE 8080
# Exec form: flext itself is PID 1, so the SIGTERM Kubernetes sends reaches uvicorn.
ENTRYPOINT ["flext"]
CMD ["serve"]
