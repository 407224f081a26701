"""Writing the model registry: ``actions`` creates the tags (release, promote,
rollback, unassign, deregister) and ``record`` builds the manifest a release
records. Reading the registry is ``tether.registry``, a shared reader."""
