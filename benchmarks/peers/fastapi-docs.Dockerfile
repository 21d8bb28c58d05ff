# Peer recipe: the shape of FastAPI's docs page "FastAPI in Containers - Docker"
# (fastapi/fastapi docs/en/docs/deployment/docker.md): one stage, pip install -r, COPY ./app,
# `fastapi run app/main.py`, one process. Adapted: the bench's base (BASE_IMAGE) and the app's
# hashed pins (--require-hashes); fastapi-cli, which that page gets from fastapi[standard], is
# installed on top of the pins (unhashed, one pinned version); the bench runs it on 127.0.0.1
# and a free port instead of port 80.
ARG BASE_IMAGE=python:3.14-slim
FROM ${BASE_IMAGE}
WORKDIR /code
COPY ./requirements.txt /code/requirements.txt
# The CA secret only lets pip through this machine's TLS proxy
RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca \
    pip install --no-cache-dir --upgrade --require-hashes -r /code/requirements.txt \
    && PIP_CERT=/run/secrets/ca pip install --no-cache-dir fastapi-cli==0.0.34
COPY ./app /code/app
CMD ["fastapi", "run", "app/main.py", "--port", "80"]
