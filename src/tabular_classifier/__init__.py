"""The example ML project: a tabular binary classifier built with scikit-learn.

Four DVC stages, each a module run with ``python -m tabular_classifier.<stage>``:
ingest -> prepare -> train -> evaluate. Each module holds one pure function that
does the work and a thin ``main`` that reads its section of params.yaml and does
the file I/O. Replace this package with your own when you adopt the template.
"""
