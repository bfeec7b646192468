#!/usr/bin/env python3
"""Soak test of visualize.py's loop: a long generated clip (thousands of frames, made on the fly: a camera panning
over generated text scenes) goes through a model while the process's memory (RSS) and each frame's time are sampled.
It reports whether memory stays flat and the time per frame does not drift.

    venv/bin/python tools/soak_visualize.py --frames 3000                   # the shipped model, as an OpenVINO IR
    venv/bin/python tools/soak_visualize.py --load-weights export/model.xml --frames 5000 --save-metrics-to soak.json

The frames go through visualize.py's own loop (spot, draw the words and the FPS panel, write the annotated mp4; no
window). The verdict compares the second tenth of the run (after warm-up) with the last tenth: memory is flat when
the median RSS grew by less than --rss-tolerance-mib, time does not drift when the median CPU milliseconds per frame
(all threads of the process) changed by less than --time-tolerance (a fraction). CPU time, not wall time, because
wall time on a shared machine follows the other jobs; both are reported. Exit code 1 when either fails. Linux only
(RSS from /proc).
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from text_spotting.command_line import add_renamed_flags, image_size, run_main
from text_spotting.inference import InferenceError
from text_spotting.inference.video import Frame, FrameSource

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu"
IR_CACHE = REPO_ROOT / "outputs" / "ir"
WINDOWS = 10
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", type=Path,
                        help="the model: a checkpoint (exported once to an IR in --ir-cache, as demo.py does) or an "
                             "exported IR (default: the template's shipped weights)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE,
                        help="template or work dir of a checkpoint (default: model_templates/text-spotting-cpu)")
    parser.add_argument("--runtime", choices=("openvino", "pytorch"), default="openvino",
                        help="a checkpoint runs as its IR (default) or in PyTorch")
    parser.add_argument("--frames", type=int, default=3000, help="length of the clip (default 3000)")
    parser.add_argument("--frame-size", type=image_size, default=(640, 368), metavar="WxH",
                        help="frame size (default 640x368)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated scenes and the camera path")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the model (default: runtime's)")
    parser.add_argument("--output", type=Path, help="keep the annotated mp4 here (default: a temporary file, deleted)")
    parser.add_argument("--save-metrics-to", type=Path, metavar="FILE.json",
                        help="also write the samples and the verdict as JSON")
    parser.add_argument("--rss-tolerance-mib", type=float, default=32.0,
                        help="largest RSS growth between the second and the last tenth called flat (default 32)")
    parser.add_argument("--time-tolerance", type=float, default=0.2,
                        help="largest relative change of the median CPU ms/frame called no drift (default 0.2)")
    parser.add_argument("--ir-cache", type=Path, default=IR_CACHE, help="where a checkpoint's IR is kept")
    add_renamed_flags(parser, {"--report": "--save-metrics-to"})
    args = parser.parse_args(argv)
    if args.frames < 2 * WINDOWS:
        parser.error(f"--frames must be at least {2 * WINDOWS}")
    return args


def rss_mib() -> float:
    """Resident memory of this process, MiB."""
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * PAGE_SIZE / 2 ** 20


class PanningClip(FrameSource):
    """``count`` frames of a camera panning back and forth over a wide world made of generated text scenes.

    Every frame is a crop of the world at the camera's position with a small brightness change; nothing is kept
    between frames but the world, so the source itself holds constant memory. ``samples`` gets, per frame, the wall
    and the CPU time the loop took for it (ms: spot, draw, write; making the frame excluded) and the process RSS
    after it (MiB).
    """

    is_video = True
    stem = "soak"

    def __init__(self, count: int, frame_size: tuple[int, int], seed: int):
        from text_spotting.synthetic import SceneConfig, SceneGenerator, discover_fonts

        self.count, self.fps, self.frame_size = count, 25.0, frame_size
        self.description = f"generated clip ({count} frames, {frame_size[0]}x{frame_size[1]})"
        width, height = frame_size
        generator = SceneGenerator(SceneConfig(width=width * 2, height=height * 3 // 2), discover_fonts("bundled"))
        rng = np.random.default_rng(seed)
        self.world = np.hstack([generator.generate(rng).image for _ in range(2)])
        self.rng = np.random.default_rng(seed + 1)
        self.samples: list[tuple[float, float, float]] = []

    def camera(self, index: int) -> tuple[int, int]:
        """Top-left corner of frame ``index``: a slow back-and-forth sweep, one cycle every 400 frames."""
        width, height = self.frame_size
        phase = 2 * np.pi * index / 400
        x = (self.world.shape[1] - width) * (0.5 - 0.5 * np.cos(phase))
        y = (self.world.shape[0] - height) * (0.5 - 0.5 * np.cos(phase * 0.7))
        return int(x), int(y)

    def __iter__(self):
        width, height = self.frame_size
        for index in range(self.count):
            x, y = self.camera(index)
            gain = self.rng.uniform(0.85, 1.15)
            image = np.clip(self.world[y:y + height, x:x + width] * gain, 0, 255).astype(np.uint8)
            handed, handed_cpu = time.perf_counter(), time.process_time()
            yield Frame(index=index, image=image, name=f"frame_{index}")
            # Back here when the loop wants the next frame: it has spotted, drawn and written this one.
            self.samples.append(((time.perf_counter() - handed) * 1000, (time.process_time() - handed_cpu) * 1000,
                                 rss_mib()))


def load_spotter(args):
    from text_spotting.export import export_cached
    from text_spotting.inference import EagerTextSpotter, OpenVINOTextSpotter, is_openvino_export
    from text_spotting.templates import load_config, load_template

    weights = args.load_weights
    if weights is None:
        name = load_template(args.template).get("initial_weights")
        if not name:
            raise InferenceError(f"{args.template}: the template ships no weights; pass --load-weights")
        weights = args.template / name
    if is_openvino_export(weights):
        return OpenVINOTextSpotter(weights, num_threads=args.threads, num_requests=1), f"{weights} (OpenVINO IR)"
    cfg = load_config(args.template)
    if args.runtime == "pytorch":
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        return EagerTextSpotter(cfg, weights), f"{weights} (PyTorch)"
    export_dir, _ = export_cached(cfg, weights, args.ir_cache)
    return OpenVINOTextSpotter(export_dir, num_threads=args.threads, num_requests=1), f"{export_dir} (OpenVINO IR)"


def summarize(samples: list[tuple[float, float, float]], rss_tolerance: float, time_tolerance: float) -> dict:
    """Per-tenth figures and the verdict of a run's ``(wall ms, CPU ms, RSS MiB)`` samples."""
    wall, cpu, rss = (np.array([sample[k] for sample in samples]) for k in range(3))
    bounds = np.linspace(0, len(samples), WINDOWS + 1).astype(int)
    windows = [{"frames": [int(a) + 1, int(b)], "rss_mib": round(float(np.median(rss[a:b])), 1),
                "cpu_ms_median": round(float(np.median(cpu[a:b])), 2),
                "wall_ms_median": round(float(np.median(wall[a:b])), 2),
                "wall_ms_p95": round(float(np.percentile(wall[a:b], 95)), 2)}
               for a, b in zip(bounds[:-1], bounds[1:])]
    steady = slice(bounds[1], None)  # after the first tenth (warm-up: allocations, caches, the encoder opening)
    frames = np.arange(len(samples))[steady]
    rss_slope = float(np.polyfit(frames, rss[steady], 1)[0]) * 1000
    cpu_slope = float(np.polyfit(frames, cpu[steady], 1)[0]) * 1000
    rss_growth = windows[-1]["rss_mib"] - windows[1]["rss_mib"]
    drift = windows[-1]["cpu_ms_median"] / max(windows[1]["cpu_ms_median"], 1e-9) - 1
    return {"frames": len(samples), "windows": windows,
            "rss_start_mib": round(float(rss[0]), 1), "rss_peak_mib": round(float(rss.max()), 1),
            "rss_growth_mib": round(rss_growth, 1), "rss_slope_mib_per_1000_frames": round(rss_slope, 2),
            "cpu_ms_median": round(float(np.median(cpu)), 2), "wall_ms_median": round(float(np.median(wall)), 2),
            "time_drift": round(drift, 3), "cpu_ms_slope_per_1000_frames": round(cpu_slope, 2),
            "memory_flat": abs(rss_growth) < rss_tolerance, "time_stable": abs(drift) < time_tolerance}


def main(argv=None) -> int:
    args = parse_args(argv)
    from text_spotting.inference.video import run_visualization

    spotter, description = load_spotter(args)
    clip = PanningClip(args.frames, tuple(args.frame_size), args.seed)
    print(f"model: {description}\nclip: {clip.description}, world {clip.world.shape[1]}x{clip.world.shape[0]}")
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        output = args.output or Path(scratch) / "soak.mp4"
        started = time.perf_counter()
        run = run_visualization(spotter, clip, output=output, show=False, progress=True)
        seconds = time.perf_counter() - started
    summary = summarize(clip.samples, args.rss_tolerance_mib, args.time_tolerance)
    summary.update(model=description, seconds=round(seconds, 1), frame_size=list(args.frame_size))
    print(f"\n{run.frames} frames in {seconds:.0f} s ({run.frames / seconds:.1f} FPS)")
    print(f"{'frames':>13}  {'RSS MiB':>8}  {'CPU ms':>7}  {'wall ms':>7}  {'wall p95':>8}")
    for window in summary["windows"]:
        first, last = window["frames"]
        print(f"{first:>6}-{last:<6}  {window['rss_mib']:>8.1f}  {window['cpu_ms_median']:>7.1f}  "
              f"{window['wall_ms_median']:>7.1f}  {window['wall_ms_p95']:>8.1f}")
    print(f"memory: {summary['rss_growth_mib']:+.1f} MiB from the second tenth to the last "
          f"({summary['rss_slope_mib_per_1000_frames']:+.2f} MiB per 1000 frames after warm-up): "
          f"{'flat' if summary['memory_flat'] else 'GROWING'}")
    print(f"time: median {summary['cpu_ms_median']:.1f} CPU ms/frame ({summary['wall_ms_median']:.1f} ms wall), "
          f"{summary['time_drift']:+.1%} CPU time from the second tenth to the last "
          f"({summary['cpu_ms_slope_per_1000_frames']:+.2f} ms per 1000 frames): "
          f"{'no drift' if summary['time_stable'] else 'DRIFTING'}")
    if args.save_metrics_to:
        args.save_metrics_to.write_text(json.dumps(summary, indent=2))
        print(f"report: {args.save_metrics_to}")
    return 0 if summary["memory_flat"] and summary["time_stable"] else 1


if __name__ == "__main__":
    from text_spotting.export import ExportError, ExportFormatError
    from text_spotting.inference.video import FrameSourceError
    from text_spotting.checkpoint import CheckpointError

    run_main(main, (InferenceError, FrameSourceError, ExportError, ExportFormatError, CheckpointError))
