"""Images: base images (real or stand-ins built by the recipes in standins/), builds and
the build secrets."""
