"""The fast encoder is distilled once, even when several workers start on it together."""

import threading
import time

from analysis import static_encoder


def test_workers_starting_together_distil_once(tmp_path, monkeypatch):
    calls = []

    def slow_distil(target, source, pca_dims=static_encoder.PCA_DIMS):
        calls.append(target)
        time.sleep(0.3)  # long enough for the other threads to arrive while it runs
        target.mkdir(parents=True)
        (target / static_encoder._META).write_text("{}")
        return target

    monkeypatch.setattr(static_encoder, "distil", slow_distil)
    target = tmp_path / "models" / "minilm-static-x"
    errors = []

    def worker():
        try:
            static_encoder.ensure_distilled(target, "source")
        except Exception as exc:  # a race used to fail here: "Directory not empty"
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and calls == [target]
    assert (target / static_encoder._META).is_file()
