"""The example ML project: a tabular binary classifier built with scikit-learn.

Four DVC stages, each a module run with ``python -m tabular_classifier.<stage>``:
ingest -> prepare -> train -> evaluate. Each module holds one pure function that
does the work and a thin ``main`` that reads its section of params.yaml and does
the file I/O. Replace this package with your own when you adopt the template.

Importing the package applies the project's numerics profile (the ``numerics``
key of params.yaml) before numpy loads, so that a stage gives the same bytes on
every CPU however it is started: ``tether run``, ``dvc repro`` or by hand. Keep
these two lines at the top of your own stage package.
"""

try:
    from tether.numerics import pin
except ModuleNotFoundError:  # an environment without tether (a replayed release's):
    pass  # tether verify --env has set the profile for this process already
else:
    pin(__name__)
