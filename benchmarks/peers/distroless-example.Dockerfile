# Baseline for a distroless base, which has no shell and no pip: the shape of distroless's own
# Python example (GoogleContainerTools/distroless, examples/python3-requirements/Dockerfile):
# a venv made with Debian's python3-venv in a Debian build stage, the requirements installed
# with its pip, then the venv and the code copied into the distroless image. Adapted: the
# bench's bases (BUILDER_IMAGE, BASE_IMAGE); no gcc or libpython3-dev and no pip upgrade, since
# every pinned package ships a wheel; the venv first on PATH, so `python3` is the venv's.
ARG BUILDER_IMAGE=debian:13-slim
ARG BASE_IMAGE=gcr.io/distroless/python3-debian13
FROM ${BUILDER_IMAGE} AS build-venv
RUN apt-get update \
    && apt-get install --no-install-suggests --no-install-recommends --yes python3-venv \
    && python3 -m venv /venv
COPY requirements.txt /requirements.txt
# The CA secret only lets pip through this machine's TLS proxy
RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca \
    /venv/bin/pip install --disable-pip-version-check -r /requirements.txt

FROM ${BASE_IMAGE}
COPY --from=build-venv /venv /venv
COPY . /app
WORKDIR /app
ENV PATH=/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/venv/bin/python3", "-m", "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
