"""The lab: a variant rendered, built and running as a container (the Subject the checks use)."""
