"""The optional deployment files (CI workflow, compose, Kubernetes, update bots): validated and
compared with the Dockerfile and the answers."""
