"""scripts.explore: the grid, the Pareto front, part fitting, and real sweeps on Dask clusters.

The sweeps run every tool for real (yosys, Verilator, the accuracy stage) on the smallest
configurations and skip nextpnr, to stay within CI's budget; `python -m scripts.explore
--quick` (docs/explore.md) includes place and route.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from golden.cli import UserError
from scripts import explore, pareto
from scripts.explore import ExploreOptions, Flow, Point

NO_PNR = Flow(pnr=False, frames=20, accuracy_maps=8)


def row(name: str, **m: float) -> dict:
    return {"key": name, "point": {"engine": name, "n": 7, "bits": 8}, "metrics": m}


# ---------------------------------------------------------------------------- the grid


def test_space_keeps_only_engines_and_parallelism_that_exist() -> None:
    points = explore.space(["direct", "fft-native", "fft-padded"], [7, 9], [8], [None, 4, 7, 8])
    labels = {p.label() for p in points}
    assert "fft-native N7 b8" in labels and "fft-native N9 b8" not in labels  # 9 = 3 x 3 is not coprime
    assert {"direct N7 b8", "direct N7 b8 P4", "direct N9 b8 P4", "direct N9 b8 P7", "direct N9 b8 P8"} <= labels
    assert "direct N7 b8 P7" not in labels and "direct N7 b8 P8" not in labels  # P >= N is the full engine
    assert all(p.parallel is None for p in points if p.engine != "direct")


def test_sample_is_seeded_distinct_and_in_grid_order() -> None:
    grid = explore.space(["direct", "fft-padded"], [7, 14, 28], [6, 8, 10])
    a, b = explore.sample(grid, 5, seed=3), explore.sample(grid, 5, seed=3)
    assert a == b and len(set(a)) == 5
    assert a == [p for p in grid if p in a]
    assert explore.sample(grid, 5, seed=4) != a
    assert explore.sample(grid, 100, seed=0) == grid


def test_task_key_changes_with_point_and_flow() -> None:
    p = Point("direct", 7, 8)
    assert explore.task_key(p, Flow()) == explore.task_key(Point("direct", 7, 8), Flow())
    assert explore.task_key(p, Flow()) != explore.task_key(Point("direct", 7, 8, 4), Flow())
    assert explore.task_key(p, Flow()) != explore.task_key(p, Flow(seeds=(2,)))


# ---------------------------------------------------------------------------- Pareto and parts


def test_pareto_front_drops_exactly_the_dominated_rows() -> None:
    rows = [
        row("small", dsp=1, lut=100, bram=0, msamples_per_s=10.0, sqnr_db=30.0),
        row("fast", dsp=8, lut=900, bram=0, msamples_per_s=200.0, sqnr_db=30.0),
        row("worse", dsp=8, lut=950, bram=0, msamples_per_s=150.0, sqnr_db=30.0),  # 'fast' beats it everywhere
        row("twin", dsp=1, lut=100, bram=0, msamples_per_s=10.0, sqnr_db=30.0),  # a tie is kept
        row("exact", dsp=9, lut=1000, bram=1, msamples_per_s=100.0, sqnr_db=45.0),
    ]
    assert [r["key"] for r in pareto.pareto_front(rows)] == ["small", "fast", "twin", "exact"]
    crashed = {**row("crashed", dsp=0, lut=1, bram=0, sqnr_db=99.0), "failed": ["pnr"]}  # no Msamples/s: not ranked
    assert [r["key"] for r in pareto.pareto_front([*rows, crashed])] == ["small", "fast", "twin", "exact"]
    no_speed = [row(r["key"], **{k: v for k, v in r["metrics"].items() if k != "msamples_per_s"}) for r in rows]
    assert [o.name for o in pareto.objectives_of(no_speed)] == ["dsp", "lut", "bram", "sqnr_db"]
    assert [r["key"] for r in pareto.pareto_front(no_speed)] == ["small", "twin", "exact"]


def test_each_n_has_its_own_front() -> None:
    """A configuration of N = 14 computes another layer than one of N = 7: never dominated by it."""
    small7 = row("small7", dsp=1, lut=100, bram=0, sqnr_db=30.0)
    big7 = row("big7", dsp=2, lut=200, bram=0, sqnr_db=30.0)
    only14 = {**row("only14", dsp=9, lut=900, bram=1, sqnr_db=20.0), "point": {"engine": "d", "n": 14, "bits": 8}}
    fronts = pareto.fronts_by_n([small7, big7, only14])
    assert {n: [r["key"] for r in f] for n, f in fronts.items()} == {7: ["small7"], 14: ["only14"]}


def test_fit_uses_the_family_counts_and_every_resource() -> None:
    part = pareto.find_part("lfe5u-25f")
    assert part.name == "LFE5U-25F" and part.family == "ecp5"
    ok = {"ecp5": {"status": "ok", "lut": 20_000, "dsp": 28, "bram": 56, "ff": 9000}}
    assert pareto.fits(ok, part)
    assert not pareto.fits({"ecp5": {**ok["ecp5"], "dsp": 29}}, part)
    assert not pareto.fits({"ecp5": {"status": "error"}}, part)
    assert not pareto.fits(ok, pareto.find_part("XC7A35T"))  # no xc7 counts: cannot say it fits
    with pytest.raises(UserError, match="known parts: LFE5U-12F"):
        pareto.find_part("EP4CE22")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fit", "EP4CE22"], "--fit: unknown part 'EP4CE22'"),
        (["--parallel", "half"], "--parallel must be a comma list"),
        (["--arch", "fft-native", "--n", "9"], "needs N that factors"),
        (["--sample", "0"], "--sample must be >= 1"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--speed", "5"], "--speed: speed grade [5]"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler tcp://127.0.0.1:1: cannot connect"),
    ],
)
def test_bad_options_are_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "scripts.explore", "--n", "7", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert not out.exists()


def test_a_foreign_out_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="--out"):
        explore.explore(ExploreOptions(points=(Point("direct", 7, 8),), flow=NO_PNR, workers=1), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


# ---------------------------------------------------------------------------- real sweeps


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes, as the default sweep makes."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
        Client(local) as client,
    ):
        yield local, client


@pytest.mark.slow
def test_tiny_sweep_on_two_workers_streams_resumes_and_fits(cluster, tmp_path: Path) -> None:
    local, _ = cluster
    points = (Point("direct", 4, 6), Point("fft-native", 4, 6))
    out, cache = tmp_path / "sweep", tmp_path / "cache"
    options = ExploreOptions(points=points, flow=NO_PNR, scheduler=local.scheduler_address, cache=cache)
    data = explore.explore(options, out)

    assert data["meta"]["workers"] == 2 and data["meta"]["done"] == 2 and data["meta"]["resumed"] == 0
    rows = {r["point"]["engine"]: r for r in data["rows"]}
    for r in rows.values():
        assert r["failed"] == [], r
        assert r["rate"]["bit_exact"] and r["accuracy"]["rtl_match_pct"] == 100.0
        assert r["pnr"] == {"status": "skipped"} and r["metrics"]["msamples_per_s"] is None
        assert 10 < r["metrics"]["sqnr_db"] < 60
    assert rows["direct"]["metrics"]["dsp"] == 4  # P = N multipliers
    assert set(data["pareto"]) <= {r["key"] for r in data["rows"]} and data["pareto"]
    assert sorted(p.name for p in out.iterdir()) == ["explore.json", "explore.md", "manifest.json", "pareto.png"]
    assert json.loads((out / "explore.json").read_text()) == json.loads(json.dumps(data))
    assert "## Pareto front" in (out / "explore.md").read_text()

    # a second run of the same sweep resumes both rows and submits nothing
    again = explore.explore(options, out)
    assert again["meta"]["resumed"] == 2 and again["rows"] == data["rows"]

    # --fit keeps what fits: a part with exactly the LUT of the smaller design holds only that one
    small = min(rows.values(), key=lambda r: r["metrics"]["lut"])
    tiny = pareto.Part("tiny", "ecp5", lut=small["metrics"]["lut"], dsp=10**3, bram=10**3, ff=10**6)
    fitted = explore.explore(replace(options, fit=tiny), out)
    assert fitted["meta"]["fitting"] == 1 and fitted["pareto"] == [small["key"]]
    assert "fit tiny" in (out / "explore.md").read_text()


def task_worker(client, key: str, timeout: float = 120.0) -> str:
    """The address of the worker running task ``key``, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if key in keys:
                return worker
        time.sleep(0.05)
    raise AssertionError(f"task {key} never started")


@pytest.mark.long  # timing-sensitive under a loaded 2-core CI machine (it waits for a task to start, then kills)
def test_a_worker_killed_mid_task_does_not_lose_the_sweep(cluster, tmp_path: Path) -> None:
    local, client = cluster
    point = Point("direct", 4, 5)
    out, cache = tmp_path / "sweep", tmp_path / "cache"
    options = ExploreOptions(points=(point,), flow=NO_PNR, scheduler=local.scheduler_address, cache=cache)
    result: dict = {}
    sweep = threading.Thread(target=lambda: result.update(explore.explore(options, out)))
    sweep.start()

    key = f"explore-{explore.task_key(point, NO_PNR)}"
    worker = task_worker(client, key)
    deadline = time.monotonic() + 120
    while not list(cache.glob("*-ecp5-*.json")):  # mid-task: its first stage is stored, the rest runs
        assert time.monotonic() < deadline, "the first stage never finished"
        time.sleep(0.05)
    pid = client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    sweep.join(timeout=300)

    assert not sweep.is_alive()
    (r,) = result["rows"]
    assert r["failed"] == [] and r["accuracy"]["rtl_match_pct"] == 100.0
    assert r["ecp5"]["cached"] is True  # the rerun on another worker read what the killed one stored
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker
    assert pid not in client.run(os.getpid).values()


@pytest.mark.long
def test_a_killed_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    """SIGKILL the whole command (client, scheduler, workers) once one of two rows is
    published; the same command again keeps that row and computes only the other."""
    out, cache = tmp_path / "sweep", tmp_path / "cache"
    argv = ["--arch", "direct", "--n", "4,5", "--bits", "6", "--no-pnr", "--workers", "1"]
    argv += ["--cache", str(cache), "--out", str(out), "--no-progress"]
    run = subprocess.Popen([sys.executable, "-m", "scripts.explore", *argv], start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while not (out / "explore.json").exists() or not json.loads((out / "explore.json").read_text())["rows"]:
            assert run.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no row was ever published"
            time.sleep(0.05)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    first = json.loads((out / "explore.json").read_text())
    assert first["meta"]["done"] == 1

    assert explore.main(argv) == 0
    again = json.loads((out / "explore.json").read_text())
    assert again["meta"]["resumed"] == 1 and again["meta"]["done"] == 2
    assert first["rows"][0] in again["rows"]
