#!/bin/sh
# Runs one build command with the optional BuildKit secrets turned into environment:
# a corporate CA bundle (id=ca) and a private package index URL with credentials
# (id=index_url). Secrets are mounted for a single RUN step only, so neither ever
# lands in a layer, the history or the image config.
set -eu
if [ -s /run/secrets/ca ]; then
    export SSL_CERT_FILE=/run/secrets/ca PIP_CERT=/run/secrets/ca REQUESTS_CA_BUNDLE=/run/secrets/ca
fi
if [ -s /run/secrets/index_url ]; then
    PIP_INDEX_URL="$(cat /run/secrets/index_url)"
    UV_DEFAULT_INDEX="$PIP_INDEX_URL"
    export PIP_INDEX_URL UV_DEFAULT_INDEX
fi
exec "$@"
