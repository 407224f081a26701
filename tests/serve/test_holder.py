"""The holder: a request keeps the model that took it, even when a swap happens
while it is being answered; a schema is derived from an older release's model."""

from __future__ import annotations

import threading
from dataclasses import replace

import httpx
import numpy as np
from tests.serve.conftest import ARTIFACT, Trained, release_for, thread_server


class Slow:
    """A model that waits for a signal before answering, then answers ``label``."""

    def __init__(self, label: int) -> None:
        self.label = label
        self.entered = threading.Event()
        self.go = threading.Event()

    def predict(self, frame):
        self.entered.set()
        assert self.go.wait(20)
        return np.full(len(frame), self.label)


def test_a_request_in_flight_finishes_on_the_model_that_took_it(trained: Trained):
    from tether.serve.app import create_app
    from tether.serve.holder import Holder
    from tether.serve.model import Served
    from tether.serve.schema import parse

    schema = parse(trained.schema_bytes, "schema.json")
    old = Served(release_for(trained, "v1.0.0"), Slow(7), schema)
    new = Served(release_for(trained, "v2.0.0"), Slow(8), schema)
    new.model.go.set()
    holder = Holder(old)
    app = create_app(holder)
    body = {"instances": [[1.0] * len(schema.columns)]}
    with thread_server(app) as url:
        answers: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{url}/invocations", json=body, timeout=30))
        )
        request.start()
        assert old.model.entered.wait(20)
        holder.swap(new)  # while the old model is still computing
        after = httpx.post(f"{url}/invocations", json=body, timeout=30)
        old.model.go.set()
        request.join(30)
    assert answers[0].json() == {"predictions": [7]}
    assert answers[0].headers["X-Model-Version"] == f"{ARTIFACT}@v1.0.0"
    assert after.json() == {"predictions": [8]}
    assert after.headers["X-Model-Version"] == f"{ARTIFACT}@v2.0.0"
    assert holder.status.swaps == 1


def test_a_release_without_schema_json_takes_its_columns_from_the_model(trained: Trained):
    from tether.serve.model import load

    served = load(replace(release_for(trained)), trained.model_bytes, None)
    assert served.schema.names == tuple(trained.frame.columns)
    assert served.schema.source.startswith("derived from the model (no schema.json")
    assert served.schema.classes == (0, 1)
