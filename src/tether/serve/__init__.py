"""Serving a release over HTTP: the model a registry stage points at (followed live
through promote and rollback) or an exported bundle, behind FastAPI and uvicorn."""
