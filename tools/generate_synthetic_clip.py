#!/usr/bin/env python3
"""Generates short videos of a synthetic text scene under camera motion, with per-frame ground truth, for testing
and measuring word tracking (tools/evaluate_tracking.py, visualize.py --track):

    python tools/generate_synthetic_clip.py --output clips/street.mp4 --frames 120 --seed 3
    python tools/generate_synthetic_clip.py --output clips/ --num-clips 4 --seed 100      # clips/clip_0100.mp4 ...

Each clip is an mp4 (mp4v) and a JSON file beside it with the same stem: for every frame the words in view, each
with its clip-wide id, quadrilateral (clockwise from the top-left, pixels), text and whether it is legible (words
cut by the frame border, too small or too blurred in that frame are don't care). The camera pans over a scene
larger than the frame, zooms and turns a little and shakes; frames get motion blur when it moves fast, now and then
a defocus blur, brightness changes and noise. The same flags give the same clip (use the default --fonts bundled).
"""
import argparse
import dataclasses
import sys
from pathlib import Path

from text_spotting.command_line import add_renamed_flags

PRESET_NAMES = ("horizontal", "scene")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path, metavar="FILE_OR_DIR",
                        help="the clip's .mp4 file, or a folder for clip_<seed>.mp4 files (needed for --num-clips)")
    parser.add_argument("--frames", type=int, default=48, metavar="N", help="frames per clip (default: %(default)s)")
    parser.add_argument("--num-clips", type=int, default=1, metavar="K",
                        help="clips to make, with seeds S, S+1, ... (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="non-negative seed (default: %(default)s)")
    parser.add_argument("--size", default="640x384", metavar="WxH",
                        help="frame width x height (default: %(default)s, the CPU template's input size)")
    parser.add_argument("--fps", type=float, default=15.0, help="frame rate of the video (default: %(default)s)")
    parser.add_argument("--preset", choices=PRESET_NAMES, default="horizontal",
                        help="the filmed scene: horizontal (mostly level text, default) or scene (turned and tilted "
                             "text); see generate_synthetic_dataset.py")
    parser.add_argument("--zoom", nargs=2, type=float, metavar=("LOW", "HIGH"),
                        help="camera zoom range, frame pixels per scene pixel (default: 0.85 1.25)")
    parser.add_argument("--max-rotation", type=float, metavar="DEG", help="camera roll range (default: 4)")
    parser.add_argument("--keyframes", type=int, metavar="K",
                        help="camera moves eased between K random poses: more is faster motion (default: 3)")
    parser.add_argument("--world-scale", type=float, metavar="X",
                        help="the scene is X times the frame size: room to pan (default: 1.6)")
    parser.add_argument("--fonts", choices=("bundled", "all"), default="bundled",
                        help="bundled: fonts shipped with the Python packages, same clip on any machine (default); "
                             "all: the system's too")
    parser.add_argument("--overwrite", action="store_true", help="replace clips that exist")
    add_renamed_flags(parser, {"--out": "--output"})
    args = parser.parse_args(argv)
    if args.num_clips < 1:
        parser.error("--num-clips must be at least 1")
    return args


def clip_config(args):
    """The clip settings the flags ask for."""
    from text_spotting.synthetic import PRESETS, parse_size
    from text_spotting.synthetic.clip import ClipConfig

    width, height = parse_size(args.size)
    overrides = {"width": width, "height": height, "frames": args.frames, "fps": args.fps,
                 "scene": PRESETS[args.preset]}
    for flag, field in (("max_rotation", "max_rotation"), ("keyframes", "keyframes"),
                        ("world_scale", "world_scale")):
        if getattr(args, flag) is not None:
            overrides[field] = getattr(args, flag)
    if args.zoom is not None:
        overrides["zoom_range"] = tuple(args.zoom)
    return dataclasses.replace(ClipConfig(), **overrides)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported only now so that --help answers at once (the package imports mmdet).
    from text_spotting.synthetic import SyntheticDataError
    from text_spotting.synthetic.clip import ground_truth_path, write_clip

    single_file = args.output.suffix.lower() == ".mp4"
    if single_file and args.num_clips > 1:
        print("error: --num-clips > 1 writes a folder of clips: give --output a folder", file=sys.stderr)
        return 2
    try:
        config = clip_config(args)
        for k in range(args.num_clips):
            seed = args.seed + k
            video = args.output if single_file else args.output / f"clip_{seed:04d}.mp4"
            summary = write_clip(video, config, seed, font_source=args.fonts, overwrite=args.overwrite)
            print(f"{video} + {ground_truth_path(video).name}: {summary.format()}")
    except SyntheticDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
