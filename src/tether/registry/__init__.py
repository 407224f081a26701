"""Reading the model registry: releases and stages kept in Git tags, in GTO's format.

``tags`` is the grammar, ``state`` reads the registry, ``manifest`` parses what a
release records about how it was built and looks releases up. Writing the
registry (release, promote, rollback...) is the ``tether.release`` domain.
"""
