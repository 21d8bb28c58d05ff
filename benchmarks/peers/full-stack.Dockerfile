# Peer recipe: the shape of fastapi/full-stack-fastapi-template's backend/Dockerfile: uv,
# UV_COMPILE_BYTECODE=1, a uv cache mount, dependencies installed before the code, then the
# project, `fastapi run --workers 4`. Adapted: the bench's base (BASE_IMAGE); uv comes from PyPI
# (`pip install uv`, the version the template pins) since its image cannot be pulled here; the
# lock is the app's hashed requirements.txt (--require-hashes) plus fastapi-cli, which that
# template gets from fastapi[standard]; its second `uv sync` installs the project itself, and
# this app is no package (it runs from /app with PYTHONPATH=/app, as there), so that step is
# left with what UV_COMPILE_BYTECODE does for the project: compile the copied code.
ARG BASE_IMAGE=python:3.14-slim
FROM ${BASE_IMAGE}
WORKDIR /app/
# The CA secret only lets pip and uv through this machine's TLS proxy
RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca pip install --no-cache-dir uv==0.13.9
ENV PATH="/app/.venv/bin:$PATH" \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    uv venv /app/.venv \
    && SSL_CERT_FILE=/run/secrets/ca uv pip install --require-hashes -r requirements.txt \
    && SSL_CERT_FILE=/run/secrets/ca uv pip install fastapi-cli==0.0.34
ENV PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app
COPY ./app /app/app
RUN python -m compileall -q /app/app
CMD ["fastapi", "run", "--workers", "4", "app/main.py"]
