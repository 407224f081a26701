"""The model registry: releases and stages kept in Git tags, in GTO's format.

``tags`` is the grammar, ``state`` reads the registry, ``release`` writes it,
``manifest`` is what a release records about how it was built.
"""
