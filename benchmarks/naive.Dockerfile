# The usual single-stage recipe, as most tutorials write it: the baseline the rendered
# image is measured against. Same base (BASE_IMAGE), same pinned requirements, same code.
ARG BASE_IMAGE=python:3.14-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY requirements.txt .
# The CA secret only lets pip through this machine's TLS proxy; otherwise a plain pip install.
RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca pip install -r requirements.txt
COPY . .
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
