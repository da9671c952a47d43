"""`make bench-prefect`: what Prefect adds to a run of the demo, as a difference and a ratio.

Each way of running `pana run` on the bundled demo is timed as a whole process (imports
included), into a fresh output folder, after one unreported warm-up; the median of the runs is
kept. In the same run, on the same machine:

- local: `pana run --local`, the stages in-process, no Prefect (the baseline);
- server: `pana run` with `PREFECT_API_URL` set, against a Prefect server started here on
  loopback (`prefect server start`, as `make server` does);
- temporary: `pana run --prefect` with no server set, so that Prefect starts a temporary one;
- dask: `pana run --task-runner dask` against the same server, on a local Dask cluster of two
  worker processes.

`import prefect` alone is timed too. The `## Prefect overhead` section of
benchmarks/RESULTS.md is replaced with the numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.rna import write_section
from benchmarks.run import machine
from flows.runners import free_port

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Prefect overhead"
BIN = Path(sys.executable).parent
MODES = {
    "local": (["--local"], False),
    "server": ([], True),
    "temporary": (["--prefect"], False),
    "dask": (["--task-runner", "dask"], True),
}


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
             "--analytics-off"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the Prefect server did not start: see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args()
    modes = args.modes.split(",")

    work = Path(tempfile.mkdtemp(prefix="pana-bench-prefect-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base |= {"PREFECT_HOME": str(work / "home"), "DO_NOT_TRACK": "1",
             "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    port = free_port()
    server = start_server(base, port, work / "server.log")
    served = base | {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    times: dict[str, list[float]] = {}
    try:
        imports = [timed([sys.executable, "-c", "import prefect"], base) for _ in range(args.runs)]
        for mode in modes:
            flags, with_server = MODES[mode]
            # A temporary server gets a Prefect home of its own: never the running server's
            # SQLite database.
            env = served if with_server else base | {"PREFECT_HOME": str(work / f"home-{mode}")}
            runs = []
            for i in range(args.runs + 1):  # the first warms caches and the database
                out = work / f"{mode}-{i}"
                seconds = timed([str(BIN / "pana"), "run", *flags, "--out", str(out)], env)
                if not (out / "latest" / "actors.csv").exists():
                    raise RuntimeError(f"{mode}: nothing published in {out}")
                if i:
                    runs.append(seconds)
                print(f"{mode} run {i}: {seconds:.1f} s", flush=True)
            times[mode] = runs
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)

    median = {mode: statistics.median(runs) for mode, runs in times.items()}
    local = median.get("local")
    rows = []
    for mode, runs in times.items():
        extra = "" if local is None or mode == "local" else f"{median[mode] - local:+.1f}"
        ratio = "" if local is None else f"{median[mode] / local:.2f}×"
        spread = ", ".join(f"{r:.1f}" for r in runs)
        rows.append(f"| {mode} | {median[mode]:.1f} | {spread} | {extra} | {ratio} |")
    text = "\n".join(
        [
            SECTION,
            "",
            f"Run on {dt.date.today()} by `make bench-prefect` ({args.runs} runs after a warm-up).",
            "",
            f"Machine: {machine()}.",
            "",
            "`pana run` on the bundled demo (4 sources, 18 records), each run a whole process "
            "(imports included) into a fresh output folder. local: `--local`, no Prefect; server: "
            "the Prefect flow against a running loopback server (`PREFECT_API_URL` set); "
            "temporary: `--prefect` with no server set, so Prefect starts one for the run; dask: "
            "`--task-runner dask` against the same server, on a local cluster of two worker "
            "processes.",
            "",
            "| mode | median s | runs s | vs local s | / local |",
            "| --- | ---: | --- | ---: | ---: |",
            *rows,
            "",
            f"`import prefect` alone: median {statistics.median(imports):.1f} s "
            f"({', '.join(f'{s:.1f}' for s in imports)}).",
            "",
        ]
    )
    write_section(Path(args.results), text, SECTION)
    print(text)


if __name__ == "__main__":
    main()
