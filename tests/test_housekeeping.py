"""`framescope store info|gc` and data set deletion leave nothing only a deleted data set used."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from analysis import housekeeping
from analysis import schema as S
from analysis.cli import main
from analysis.passages import split_passages, text_hash
from analysis.store import Store, run_owner_id

MODEL = "test-model"


def _add(store: Store, name: str, articles: pd.DataFrame) -> int:
    empty = pd.DataFrame(columns=list(S.REJECTED_COLUMNS))
    return store.add_dataset(name, articles, empty, [(f"{name}.csv", name)]).dataset_id


def _embed(store: Store, articles: pd.DataFrame) -> set[str]:
    """Split and 'embed' articles through the store's caches, as a run does; the passage hashes."""
    passages = split_passages(articles, cache=store, cache_key="k")
    hashes = list(dict.fromkeys(passages[S.TEXT_HASH]))
    store.put_vectors(MODEL, hashes, np.ones((len(hashes), 4), np.float32))
    return set(hashes)


def _claim_done(store: Store, key: str, params: dict) -> None:
    assert store.claim_run(key, params, "cli@elsewhere:1")
    assert store.finish_run(key, {"t": pd.DataFrame({"x": [1]})}, {}, owner="cli@elsewhere:1")


def _vectors(store: Store) -> set[str]:
    return {r[0] for r in store.connection().execute("SELECT text_hash FROM embeddings")}


def test_deleting_a_data_set_drops_what_only_it_used(store, demo_sample):
    a, b = demo_sample.iloc[:10], demo_sample.iloc[8:20]  # two shared articles
    ida, idb = _add(store, "a", a), _add(store, "b", b)
    used_a, used_b = _embed(store, a), _embed(store, b)
    _claim_done(store, "run-a", {"datasets": [ida]})
    _claim_done(store, "run-ab", {"datasets": [ida, idb]})
    _claim_done(store, "run-b", {"datasets": [idb]})
    r = housekeeping.delete_dataset(store, idb)
    assert r.runs_dropped == 2 and {k for (k,) in store.connection().execute("SELECT run_key FROM runs")} == {"run-a"}
    assert _vectors(store) == used_a and used_b - used_a  # b's own passages are gone, shared ones kept
    left = {h for (h,) in store.connection().execute("SELECT text_hash FROM passage_splits")}
    assert left == {text_hash(t) for t in a[S.TEXT]}
    assert store.run_tables("run-a") is not None


def test_gc_drops_unused_runs_and_vectors_and_keeps_live_work(store, demo_sample):
    ida = _add(store, "a", demo_sample.iloc[:10])
    used = _embed(store, demo_sample.iloc[:10])
    store.put_vectors(MODEL, ["orphan"], np.ones((1, 4), np.float32))
    _claim_done(store, "cli-run", {"config": {}})  # a `framescope run` on files never saved
    _claim_done(store, "kept", {"datasets": [ida]})
    assert store.claim_run("live", {"datasets": [99]}, run_owner_id("cli"))  # this process: alive
    r = housekeeping.collect_garbage(store)
    assert r.runs_dropped == 1 and r.live_runs == 1 and r.vectors_dropped == 0  # vectors wait for live runs
    assert store.fail_run("live", "stopped", run_owner_id("cli"))
    r = housekeeping.collect_garbage(store)
    assert r.runs_dropped == 1 and r.vectors_dropped == 1 and _vectors(store) == used
    assert store.run_tables("kept") is not None
    assert store.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_gc_is_safe_while_others_read_and_write(tmp_path, demo_sample):
    path = tmp_path / "fs.db"
    store = Store(path)
    _add(store, "a", demo_sample)
    _embed(store, demo_sample)
    store.put_vectors(MODEL, [f"orphan{i}" for i in range(2000)], np.ones((2000, 4), np.float32))
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader_writer() -> None:
        other = Store(path)  # another connection, as the dashboard holds
        try:
            i = 0
            while not stop.is_set() and i < 10_000:
                other.articles([1])
                other.put_vectors("other-model", [f"w{i}"], np.ones((1, 4), np.float32))
                i += 1
        except BaseException as exc:  # noqa: BLE001 (recorded for the assertion)
            errors.append(exc)
        finally:
            other.close()

    t = threading.Thread(target=reader_writer)
    t.start()
    try:
        r = housekeeping.collect_garbage(store)
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors
    assert r.vectors_dropped >= 2000


def test_store_info_and_gc_from_the_command_line(tmp_path, demo_sample, capsys):
    path = tmp_path / "fs.db"
    store = Store(path)
    _add(store, "Papers **bold**", demo_sample.iloc[:5])
    _embed(store, demo_sample.iloc[:5])
    store.close()
    assert main(["store", "info", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "embeddings" in out and "Papers **bold**" in out and f"of {MODEL}" in out
    info = housekeeping.store_info(Store(path))
    assert info.table_rows["datasets"] == 1 and info.vectors_by_model[MODEL] > 0
    assert main(["store", "gc", "--store", str(path)]) == 0
    assert "dropped 0 run(s)" in capsys.readouterr().out
    assert main(["store", "info", "--store", str(tmp_path / "none.db")]) == 1
