#!/usr/bin/env python3
"""Measures word tracking on clips with per-frame ground truth (tools/generate_synthetic_clip.py makes them): runs a
model over every frame once, then scores the words as the spotter read them (no tracking) and as the tracker shows
them (ids, voted texts):

    python tools/evaluate_tracking.py --video clips/clip_0100.mp4 --load-weights snapshot.pth
    python tools/evaluate_tracking.py --video clips/*.mp4 --load-weights export/model.xml --save-metrics-to m.yaml

Per mode: the share of (frame, legible word) pairs in which the word is shown (matched by quad IoU > 0.5) and shown
with its correct text (case-insensitive, as ICDAR compares texts), identity switches (a word matched to another track
id than before; also per 100 word-frames), fragmented words (matched to more than one id in a clip) and the tracker's
milliseconds per frame. The model is a checkpoint (.pth; its template is found as visualize.py finds it) or an
exported IR.
"""
import argparse
import dataclasses
import statistics
import time
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, add_template_argument


def parse_args(argv=None):
    from text_spotting.inference.tracking import TrackerConfig

    defaults = TrackerConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", nargs="+", required=True, type=Path, metavar="CLIP",
                        help="video files (.mp4) of clips with ground truth")
    parser.add_argument("--test-ann-files", nargs="+", type=Path, metavar="GT.json",
                        help="their ground-truth files, in the same order (default: the .json beside each clip)")
    parser.add_argument("--load-weights", required=True,
                        help="the model: a checkpoint (.pth) or an exported IR (export dir, model.xml or model.bin)")
    parser.add_argument("--device", default="CPU", help="OpenVINO device for an IR (default CPU)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the model")
    parser.add_argument("--limit", type=int, default=0, help="only the first N frames of each clip (0 = all)")
    tracker = parser.add_argument_group("tracker settings (defaults: text_spotting.inference.tracking.TrackerConfig)")
    tracker.add_argument("--min-iou", type=float, default=defaults.min_iou,
                         help="least overlap of a word with a track's predicted quad to continue it (default "
                              "%(default)s)")
    tracker.add_argument("--text-weight", type=float, default=defaults.text_weight,
                         help="share of the link cost from unlike texts (default %(default)s)")
    tracker.add_argument("--memory", type=int, default=defaults.memory,
                         help="frames a track keeps its id without a word (default %(default)s)")
    tracker.add_argument("--vote-window", type=int, default=defaults.vote_window,
                         help="recent readings that vote for a track's text (default %(default)s)")
    tracker.add_argument("--hold", type=int, default=defaults.hold,
                         help="frames a missed track is still shown (default %(default)s)")
    parser.add_argument("--save-metrics-to", type=Path, metavar="FILE",
                        help="also write the numbers (per clip and in total, both modes) as YAML")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_template_argument(parser, __file__)
    add_renamed_flags(parser, {"--ground-truth": "--test-ann-files"})
    args = parser.parse_args(argv)
    if args.test_ann_files is not None and len(args.test_ann_files) != len(args.video):
        parser.error(f"{len(args.test_ann_files)} ground-truth files for {len(args.video)} clips")
    if args.limit < 0:
        parser.error("--limit must be 0 (all) or more")
    try:
        args.tracker_config = TrackerConfig(min_iou=args.min_iou, text_weight=args.text_weight, memory=args.memory,
                                            vote_window=args.vote_window, hold=args.hold)
    except ValueError as error:
        parser.error(str(error))
    return args


def spot_clip(spotter, video: Path, limit: int, progress: bool):
    """Every frame's words as the spotter reads them, and the spotter's mean milliseconds per frame."""
    from tqdm import tqdm

    from text_spotting.inference.video import open_frame_source, spot_frames

    source = open_frame_source(video=str(video), limit=limit)
    frames, total_ms = [], []
    try:
        for spotted in tqdm(spot_frames(spotter, source, keep_masks=False), total=source.count, unit="frame",
                            desc=video.name, disable=not progress, leave=False):
            frames.append(spotted.words)
            total_ms.append(spotted.latency_ms.get("total", 0.0))
    finally:
        source.close()
    return frames, statistics.fmean(total_ms) if total_ms else 0.0


def track_clip(frames, config):
    """The tracker's words of every frame, and its milliseconds per frame: wall-clock and CPU (this thread's; what
    the tracker costs whatever else the machine runs)."""
    from text_spotting.inference.tracking import WordTracker

    tracker = WordTracker(config)
    tracked, wall_ms, cpu_ms = [], [], []
    for words in frames:
        start = time.thread_time()
        tracked.append(tracker.update(words))
        cpu_ms.append((time.thread_time() - start) * 1000.0)
        wall_ms.append(tracker.last_ms)
    return tracked, wall_ms, cpu_ms


def table_row(name: str, mode: str, metrics, tracker_ms: tuple[float, float] | None = None) -> str:
    def optional(value, form):
        return "-" if value is None else format(value, form)

    milliseconds = "-" if tracker_ms is None else f"{tracker_ms[0]:.2f} / {tracker_ms[1]:.2f}"
    switches = "-" if metrics.identity_switches is None else \
        f"{metrics.identity_switches} ({metrics.switches_per_100:.2f})"
    return (f"| {name} | {mode} | {metrics.frames} | {metrics.word_frames} | {metrics.detected:.3f} | "
            f"{metrics.correct_text:.3f} | {switches} | {optional(metrics.fragmented_words, 'd')} / "
            f"{metrics.gt_words} | {optional(metrics.track_ids, 'd')} | {milliseconds} |")


def main(argv=None) -> int:
    args = parse_args(argv)
    from text_spotting.evaluation import EvaluationError
    from text_spotting.evaluation.tracking_metrics import ShownWord, evaluate_clip, load_clip_ground_truth
    from text_spotting.inference import load_text_spotter

    ground_truth_files = args.test_ann_files or [video.with_suffix(".json") for video in args.video]
    truths = [load_clip_ground_truth(path) for path in ground_truth_files]  # bad files fail before the model loads
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    spotter = load_text_spotter(args.load_weights, args.template, args.device, num_threads=args.threads)
    rows = []
    results = {"clips": {}, "model": str(args.load_weights), "tracker": dataclasses.asdict(args.tracker_config)}
    spotter_total = tracked_total = None
    all_wall, all_cpu, spotter_ms = [], [], []
    for video, truth in zip(args.video, truths):
        frames, clip_spotter_ms = spot_clip(spotter, video, args.limit, not args.no_progress)
        truth = truth[:args.limit] if args.limit else truth
        if len(truth) != len(frames):
            raise EvaluationError(f"{video}: {len(frames)} frames, but its ground truth has {len(truth)}")
        tracked, wall_ms, cpu_ms = track_clip(frames, args.tracker_config)
        plain = evaluate_clip(truth, [[ShownWord(w.quad, w.text) for w in words] for words in frames])
        with_tracks = evaluate_clip(truth, [[ShownWord(t.quad, t.text, t.track_id) for t in tracks]
                                            for tracks in tracked])
        clip_ms = (statistics.fmean(wall_ms), statistics.fmean(cpu_ms)) if wall_ms else (0.0, 0.0)
        rows += [table_row(video.name, "spotter alone", plain),
                 table_row(video.name, "tracked", with_tracks, clip_ms)]
        results["clips"][video.name] = {"spotter": plain.as_dict(), "tracked": with_tracks.as_dict(),
                                        "tracker_ms_per_frame": round(clip_ms[0], 4),
                                        "tracker_cpu_ms_per_frame": round(clip_ms[1], 4),
                                        "spotter_ms_per_frame": round(clip_spotter_ms, 2)}
        spotter_total = plain if spotter_total is None else spotter_total + plain
        tracked_total = with_tracks if tracked_total is None else tracked_total + with_tracks
        all_wall += wall_ms
        all_cpu += cpu_ms
        spotter_ms.append(clip_spotter_ms)
    mean_ms = statistics.fmean(all_wall) if all_wall else 0.0
    cpu_mean_ms = statistics.fmean(all_cpu) if all_cpu else 0.0
    p95_ms = sorted(all_wall)[int(0.95 * (len(all_wall) - 1))] if all_wall else 0.0
    if len(args.video) > 1:
        rows += [table_row("all", "spotter alone", spotter_total),
                 table_row("all", "tracked", tracked_total, (mean_ms, cpu_mean_ms))]
    print("| clip | mode | frames | word-frames | shown | correct text | ID switches (per 100 word-frames) | "
          "fragmented / GT words | track ids | tracker ms/frame (wall / CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    gain = 100.0 * (tracked_total.correct_text - spotter_total.correct_text)
    print(f"\ncorrect text: {100 * spotter_total.correct_text:.1f} % of word-frames without tracking, "
          f"{100 * tracked_total.correct_text:.1f} % with ({gain:+.1f} points); identity switches per 100 "
          f"word-frames: {tracked_total.switches_per_100:.2f}; tracker {mean_ms:.2f} ms/frame wall-clock (p95 "
          f"{p95_ms:.2f}), {cpu_mean_ms:.2f} ms CPU; spotter {statistics.fmean(spotter_ms):.1f} ms/frame")
    if args.save_metrics_to:
        import yaml

        results["total"] = {"spotter": spotter_total.as_dict(), "tracked": tracked_total.as_dict(),
                            "tracker_ms_per_frame": round(mean_ms, 4), "tracker_ms_p95": round(p95_ms, 4),
                            "tracker_cpu_ms_per_frame": round(cpu_mean_ms, 4),
                            "correct_text_gain_points": round(gain, 2)}
        args.save_metrics_to.parent.mkdir(parents=True, exist_ok=True)
        args.save_metrics_to.write_text(yaml.safe_dump(results, sort_keys=False), encoding="utf-8")
        print(f"metrics written to {args.save_metrics_to}")
    return 0


if __name__ == "__main__":
    from text_spotting.command_line import run_main
    from text_spotting.evaluation import EvaluationError
    from text_spotting.inference import InferenceError
    from text_spotting.inference.video import FrameSourceError

    run_main(main, (EvaluationError, FrameSourceError, InferenceError))
