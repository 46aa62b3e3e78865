"""Progress of cell runs: plain lines on a clock, a bar on a terminal, and who hears what."""

import io

from cvn_assets.orchestration.progress import (
    ProgressBar,
    ProgressLines,
    cell_computed,
    cell_run,
    console_progress,
    listening,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_come_at_most_every_interval_with_counts_and_the_time_left_at_the_average_pace() -> None:
    clock, lines = _Clock(), []
    progress = ProgressLines(lines.append, every_seconds=10.0, clock=clock)
    progress.run_started("cell_job[BTC|f1.baseline...BTC|f4.baseline]", cells=4, assets=2)
    for now, asset in (
        (1.0, "smoothed_labels"),
        (12.0, "smoothed_labels"),
        (15.0, "smoothed_labels"),
        (30.0, "smoothed_labels"),
        (100.0, "fold_metrics"),
    ):
        clock.now = now
        progress.computed(asset, "BTC|f1.baseline")
    # t=12: 2 of 8 done in 12 s, 6 left at 6 s each; t=15 is 3 s after the last line; t=30: 4 left at
    # 7.5 s each; t=100: 3 left at 20 s each.
    assert lines == [
        "  ...   cell_job[BTC|f1.baseline...BTC|f4.baseline]: 2/8 cell assets (25 %), smoothed_labels 2/4 cells, "
        "about 36s left",
        "  ...   cell_job[BTC|f1.baseline...BTC|f4.baseline]: 4/8 cell assets (50 %), smoothed_labels 4/4 cells, "
        "about 30s left",
        "  ...   cell_job[BTC|f1.baseline...BTC|f4.baseline]: 5/8 cell assets (62 %), fold_metrics 1/4 cells, "
        "about 1m00s left",
    ]
    clock.now = 200.0
    progress.run_started("cell_job[ETH|f1.baseline]", cells=1, assets=1)  # a new run counts from zero
    clock.now = 211.0
    progress.computed("fold_metrics", "ETH|f1.baseline")
    assert lines[-1] == (
        "  ...   cell_job[ETH|f1.baseline]: 1/1 cell assets (100 %), fold_metrics 1/1 cells, about 0s left"
    )


def test_only_listeners_hear_the_runs_and_their_cells() -> None:
    heard: list[str] = []
    progress = ProgressLines(heard.append, every_seconds=0.0)
    with cell_run("before", 1, 1):
        cell_computed("fold_metrics", "BTC|f1.baseline")  # nobody listens: nothing happens
    with listening(progress), cell_run("run", 1, 2):
        cell_computed("smoothed_labels", "BTC|f1.baseline")
        cell_computed("fold_metrics", "BTC|f1.baseline")
    cell_computed("fold_metrics", "BTC|f2.baseline")  # after the block: not heard
    assert [line.split(": ", 1)[1].split(",")[0] for line in heard] == [
        "1/2 cell assets (50 %)",
        "2/2 cell assets (100 %)",
    ]


def test_a_terminal_gets_a_bar_and_other_output_gets_lines() -> None:
    assert isinstance(console_progress(io.StringIO()), ProgressLines)
    terminal = _Terminal()
    bar = console_progress(terminal)
    assert isinstance(bar, ProgressBar)
    bar.run_started("run", cells=2, assets=1)
    bar.computed("fold_metrics", "BTC|f1.baseline")
    bar.bar.refresh()
    shown = terminal.getvalue()
    assert "1/2 cell assets" in shown and "fold_metrics 1/2 cells" in shown and " 50%|" in shown
    bar.run_ended()
    assert bar.bar is None
