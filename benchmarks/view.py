"""The viewer on a large bundle: page generation against reduction, and the page in Chromium.

Records ``rollout-trace demo --scale N`` (default 400: 401 agents, ~32,000 events, ~17 MB),
then measures, in this one run:

* ``reduce``: reducing the bundle (``reduce_bundle`` + ``state_bytes``), the baseline;
* ``html``: what ``view`` adds on top of that: the view model and the self-contained page with
  every payload embedded (deflated, base64); the target is html <= 2x reduce;
* the commands ``rollout-trace reduce`` and ``rollout-trace view -o``, each in a process of
  its own: wall time and peak resident memory (what a user waits for and needs);
* in headless Chromium (the system's ``chromium``, driven by Playwright): first contentful
  paint and time until the page is interactive, the JS heap after a garbage collection (via
  the DevTools protocol), and frame times while scrolling the calls list (the largest list)
  and the timeline. Targets: first paint <= 2 s, no frame over 100 ms, heap <= 200 MB.

    python benchmarks/view.py [--scale 400] [--bundle DIR] [--json] [--no-browser]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.cli import main as cli
from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.view.html import static_page
from rollout_trace_sdk.view.model import build_view_model
from rollout_trace_sdk.view.payloads import PayloadReader

_SCROLL_JS = """async ([selector, frames, step]) => {
  const el = document.querySelector(selector);
  const times = [];
  let last = performance.now();
  for (let n = 0; n < frames; n++) {
    await new Promise((done) => requestAnimationFrame(() => {
      el.scrollTop += step;
      el.dispatchEvent(new Event('scroll'));
      const now = performance.now(); times.push(now - last); last = now; done();
    }));
  }
  return times;
}"""

_IDLE_JS = """async ([frames]) => {
  const times = [];
  let last = performance.now();
  for (let n = 0; n < frames; n++) {
    await new Promise((done) => requestAnimationFrame(() => {
      const now = performance.now(); times.push(now - last); last = now; done();
    }));
  }
  return times;
}"""

_WHEEL_JS = """async ([frames]) => {
  const el = document.querySelector('#timeline');
  const times = [];
  let last = performance.now();
  for (let n = 0; n < frames; n++) {
    await new Promise((done) => requestAnimationFrame(() => {
      el.dispatchEvent(new WheelEvent('wheel', {deltaY: 40, ctrlKey: n % 20 < 10, bubbles: true, cancelable: true}));
      const now = performance.now(); times.push(now - last); last = now; done();
    }));
  }
  return times;
}"""


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


#: ``rollout-trace ARGS`` run in this child, then its peak resident memory on stderr: VmHWM
#: (Linux) counts only what the command used; the child's ``ru_maxrss`` also counts the
#: benchmark's own memory the child was forked with.
_PEAK = (
    "import sys; from rollout_trace_sdk.cli import main; sys.argv[0] = 'rollout-trace'; code = main(); "
    "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1], "
    "file=sys.stderr); sys.exit(code)"
)


def _command(*args: str) -> tuple[float, float]:
    """``rollout-trace ARGS`` in a child process: (seconds, peak resident MB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"rollout-trace {' '.join(args)}: exit {done.returncode}: {done.stderr}")
    return seconds, int(done.stderr.split()[-1]) / 1024


def _p95(frames: list[float]) -> float:
    """The 95th percentile: on a shared machine the single worst frame is mostly whatever
    else ran then (the idle baseline shows how much), the 95th says what the page costs."""
    return statistics.quantiles(frames, n=20)[18]


def _browser(page_path: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise SystemExit("benchmarks/view.py: no chromium on PATH")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_function("() => window.__rt && window.__rt.ready", timeout=120_000)
        ready_ms = page.evaluate("performance.getEntriesByName('rt-ready')[0].startTime")
        parsed_ms = page.evaluate("performance.getEntriesByName('rt-parsed')[0].startTime")
        paint = page.evaluate(
            "(performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint') || {}).startTime || -1"
        )
        cdp = page.context.new_cdp_session(page)
        cdp.send("HeapProfiler.collectGarbage")
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        idle_frames = page.evaluate(_IDLE_JS, [120])  # the baseline: frames with nothing to do
        # 120 px a frame is a fast fling (7,200 px/s); 480 px a frame jumps 20 rows at once
        list_frames = page.evaluate(_SCROLL_JS, ["#list", 240, 120])
        jump_frames = page.evaluate(_SCROLL_JS, ["#list", 120, 480])
        wheel_frames = page.evaluate(_WHEEL_JS, [120])
        page.evaluate("window.__rt.select('call_0_cat')")
        cdp.send("HeapProfiler.collectGarbage")
        after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        browser.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    return {
        "first_paint_ms": paint,
        "ready_ms": ready_ms,
        "model_parsed_ms": parsed_ms,
        "heap_mb": metrics["JSHeapUsedSize"] / 1e6,
        "heap_after_use_mb": after["JSHeapUsedSize"] / 1e6,
        "idle_max_frame_ms": max(idle_frames[1:]),
        "idle_median_frame_ms": statistics.median(idle_frames[1:]),
        "list_jump_max_frame_ms": max(jump_frames[1:]),
        "list_jump_p95_frame_ms": _p95(jump_frames[1:]),
        "list_scroll_p95_frame_ms": _p95(list_frames[1:]),
        "idle_p95_frame_ms": _p95(idle_frames[1:]),
        "list_jump_median_frame_ms": statistics.median(jump_frames[1:]),
        "list_scroll_max_frame_ms": max(list_frames[1:]),
        "list_scroll_median_frame_ms": statistics.median(list_frames[1:]),
        "timeline_max_frame_ms": max(wheel_frames[1:]),
        "timeline_median_frame_ms": statistics.median(wheel_frames[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=400)
    parser.add_argument("--bundle", type=Path, help="use this bundle instead of recording one")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--no-browser", action="store_true", help="page generation only (no Chromium figures)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="view-bench-"))
    try:
        bundle = args.bundle
        if bundle is None:
            out = io.StringIO()
            assert cli(["demo", "--out", str(work), "--scale", str(args.scale)], out=out) == 0
            bundle = Path(out.getvalue().splitlines()[0])
        events = sum(1 for _ in (bundle / "trace.jsonl").open("rb"))
        files = [bundle / "manifest.json", bundle / "trace.jsonl", *(bundle / "payloads").iterdir()]
        size = sum(p.stat().st_size for p in files)
        reduce_s, data = _timed(lambda: state_bytes(reduce_bundle(bundle)))
        state = orjson.loads(data)
        model_s, model = _timed(lambda: orjson.dumps(build_view_model(state)))
        html_s, page = _timed(lambda: static_page(state, PayloadReader(bundle)))
        page_path = work / "page.html"
        page_path.write_text(page, encoding="utf-8")
        reduce_cmd = _command("reduce", str(bundle), "-o", str(work / "state.json"))
        view_cmd = _command("view", str(bundle), "-o", str(work / "view.html"))
        figures: dict[str, Any] = {
            "load_average": os.getloadavg()[0],
            "cpus": os.cpu_count(),
            "events": events,
            "bundle_mb": size / 1e6,
            "threads": len(state["threads"]),
            "reduce_s": reduce_s,
            "view_model_s": model_s,
            "view_model_mb": len(model) / 1e6,
            "html_s": html_s,
            "html_vs_reduce": html_s / reduce_s,
            "page_mb": len(page) / 1e6,
            "reduce_command_s": reduce_cmd[0],
            "reduce_peak_mb": reduce_cmd[1],
            "view_command_s": view_cmd[0],
            "view_peak_mb": view_cmd[1],
        }
        if not args.no_browser:
            figures.update(_browser(page_path))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json or args.no_browser:
        print(orjson.dumps(figures).decode())
        return
    print(f"machine: {figures['cpus']} CPUs, load average {figures['load_average']:.1f}")
    print(
        f"bundle: {figures['events']:,} events, {figures['bundle_mb']:.1f} MB, {figures['threads']} agents"
    )
    print(f"reduce (baseline)        {figures['reduce_s']:7.2f} s")
    print(
        f"view model               {figures['view_model_s']:7.2f} s   {figures['view_model_mb']:.1f} MB"
    )
    print(
        f"html page (model+embed)  {figures['html_s']:7.2f} s   {figures['page_mb']:.1f} MB   {figures['html_vs_reduce']:.2f}x reduce (target <= 2x)"
    )
    print(
        f"`reduce -o` / `view -o`    {figures['reduce_command_s']:6.2f} s / {figures['view_command_s']:.2f} s   "
        f"peak {figures['reduce_peak_mb']:.0f} MB / {figures['view_peak_mb']:.0f} MB"
    )
    print(f"first contentful paint   {figures['first_paint_ms']:7.0f} ms  (target <= 2000)")
    print(f"model parsed             {figures['model_parsed_ms']:7.0f} ms")
    print(f"interactive (drawn)      {figures['ready_ms']:7.0f} ms")
    print(
        f"JS heap after load       {figures['heap_mb']:7.1f} MB  (target <= 200); after use {figures['heap_after_use_mb']:.1f} MB"
    )
    print(
        f"idle frames (baseline)   max {figures['idle_max_frame_ms']:.1f} ms, "
        f"p95 {figures['idle_p95_frame_ms']:.1f} ms, median {figures['idle_median_frame_ms']:.1f} ms"
    )
    print(
        f"calls list, 480 px/frame max {figures['list_jump_max_frame_ms']:.1f} ms, "
        f"p95 {figures['list_jump_p95_frame_ms']:.1f} ms, "
        f"median {figures['list_jump_median_frame_ms']:.1f} ms"
    )
    print(
        f"calls list, 120 px/frame max {figures['list_scroll_max_frame_ms']:.1f} ms, "
        f"p95 {figures['list_scroll_p95_frame_ms']:.1f} ms, "
        f"median {figures['list_scroll_median_frame_ms']:.1f} ms (target max <= 100)"
    )
    print(
        f"timeline wheel frames    max {figures['timeline_max_frame_ms']:.1f} ms, median {figures['timeline_median_frame_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
