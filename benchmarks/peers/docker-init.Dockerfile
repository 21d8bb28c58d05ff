# Peer recipe: the shape of the Dockerfile `docker init` writes for a Python project: one stage,
# PYTHONDONTWRITEBYTECODE, a non-root user with UID 10001, pip with a cache mount and a
# bind-mounted requirements.txt, then COPY . and `python3 -m uvicorn` in a shell-form CMD.
# Adapted: the bench's base (BASE_IMAGE) and the app's hashed pins (--require-hashes); when the
# base has no adduser, useradd makes the same user; the bench runs it on 127.0.0.1 and a free port.
ARG BASE_IMAGE=python:3.14-slim
FROM ${BASE_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
ARG UID=10001
RUN if command -v adduser >/dev/null; then \
        adduser --disabled-password --gecos "" --home "/nonexistent" --shell "/sbin/nologin" \
            --no-create-home --uid "${UID}" appuser; \
    else \
        /usr/sbin/useradd --home-dir /nonexistent --shell /sbin/nologin --no-create-home \
            --uid "${UID}" appuser; \
    fi
# The CA secret only lets pip through this machine's TLS proxy
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=ca \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    PIP_CERT=/run/secrets/ca python3 -m pip install --require-hashes -r requirements.txt
USER appuser
COPY . .
EXPOSE 8000
CMD python3 -m uvicorn app.main:app --host=0.0.0.0 --port=8000
