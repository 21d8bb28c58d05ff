"""The machine and its services: what the tests need installed, the Docker engine, emulation,
ports, and the throwaway PostgreSQL, registry and package index."""
