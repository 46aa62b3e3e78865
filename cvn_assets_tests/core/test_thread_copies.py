"""Private copies of pandas values for threads that compute at once."""

import threading

import pandas as pd

from cvn_assets.core.thread_copies import PerThreadCopies, frames_copy


def test_frames_copy_copies_every_frame_of_nested_mappings_and_keeps_other_values() -> None:
    frame = pd.DataFrame({"p": [0.1, 0.9]})
    value = {"predictions": frame, "nested": {"models": frame}, "mode": "filter"}
    copied = frames_copy(value)
    assert copied["predictions"] is not frame and copied["nested"]["models"] is not frame
    pd.testing.assert_frame_equal(copied["predictions"], frame)
    frame.loc[0, "p"] = 0.5
    assert copied["predictions"].loc[0, "p"] == 0.1 and copied["mode"] == "filter"


def test_each_thread_gets_one_copy_per_key_and_keeps_it() -> None:
    shared = pd.DataFrame({"x": [1, 2, 3]})
    copies: PerThreadCopies[pd.DataFrame] = PerThreadCopies(lambda f: f.copy(deep=True))
    seen: dict[str, list[pd.DataFrame]] = {}  # the copies themselves: they outlive their threads here

    def read(name: str) -> None:
        seen[name] = [copies.get("BTC", shared), copies.get("BTC", shared), copies.get("ETH", shared)]

    threads = [threading.Thread(target=read, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for first, again, other in seen.values():
        assert first is again and first is not other and first is not shared
    assert seen["a"][0] is not seen["b"][0]
