#!/usr/bin/env python3
"""Shows what a trained text spotter finds in a webcam stream, a video file or images: word masks,
quadrilaterals and texts with their confidences, with the FPS and the detector / encoder / decoder milliseconds
in the corner. Run the copy in a work dir:

    python visualize.py --load-weights export/model.xml --video 0                     # webcam, in a window
    python visualize.py --load-weights snapshot.pth --video street.mp4 --no-show --output street_text.mp4
    python visualize.py --load-weights export/model.xml --images photos/ --output annotated/
    python visualize.py --load-weights snapshot.pth --video street.mp4 --no-show --save-tracks-to street_tracks.jsonl

On a video or a webcam the words are tracked from frame to frame (--no-track: each frame on its own): each word keeps
an id and shows the text voted over its recent readings, so boxes and texts do not flicker; --save-tracks-to writes
the tracks (frame, id, quad, text, score) as JSON lines.

Without a screen (--no-show, or no $DISPLAY) the frames are written: an annotated mp4 for a video, one .jpg per
image for images (default place: outputs/visualize/). In the window Esc or q quits; a video file ends at its last
frame. An exported IR keeps --async-requests frames in flight so a camera is read while frames are spotted.
"""
import argparse
from pathlib import Path

from text_spotting.command_line import add_template_argument, add_video_arguments, check_video_arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", required=True,
                        help="the model: a checkpoint (.pth, run with PyTorch) or an exported IR (export dir, "
                             "model.xml or model.bin, run with OpenVINO)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", metavar="INDEX_OR_FILE",
                        help="a camera index (0 = the first webcam) or a video file")
    source.add_argument("--images", nargs="+", metavar="PATH",
                        help="image files and/or folders (folders: their images, recursively, sorted)")
    parser.add_argument("--output", type=Path,
                        help="where to write the annotated frames: an .mp4 file (or a folder for <name>.mp4) for "
                             "a video, a folder for images. Default when nothing is shown: outputs/visualize/")
    parser.add_argument("--no-show", action="store_true",
                        help="do not open a window; write the frames instead (also what happens without a screen)")
    parser.add_argument("--device", default="CPU",
                        help="OpenVINO device for an IR (CPU, GPU, AUTO...); a checkpoint runs on the CPU "
                             "(default CPU)")
    parser.add_argument("--limit", type=int, default=0, help="stop after N frames or images (0 = all)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of the model (OpenVINO INFERENCE_NUM_THREADS, torch threads); default: "
                             "the runtime's choice")
    add_video_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar while writing")
    add_template_argument(parser, __file__)
    args = parser.parse_args(argv)
    check_video_arguments(args, parser)
    if args.limit < 0:
        parser.error("--limit must be 0 (all) or more")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from text_spotting.inference.video import display_available, open_frame_source, run_summary, run_visualization

    # The input first: a camera or file that cannot be opened fails before the model is loaded.
    source = open_frame_source(args.video, args.images, args.limit)
    show = not args.no_show and display_available()
    if not args.no_show and not show:
        print("note: no display ($DISPLAY is not set): writing the annotated frames instead of showing them")

    from text_spotting.inference import EagerTextSpotter, load_text_spotter
    from text_spotting.inference.tracking import WordTracker

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    spotter = load_text_spotter(args.load_weights, args.template, args.device, num_threads=args.threads,
                                num_requests=args.async_requests)
    if isinstance(spotter, EagerTextSpotter) and args.async_requests > 1 and args.video is not None:
        print("note: a checkpoint runs one frame at a time; export it (tools/export.py) for async requests")
    print(f"{source.description} -> {'window' if show else 'files'}")
    run = run_visualization(spotter, source, output=args.output, show=show, progress=not args.no_progress,
                            tracker=WordTracker() if args.track else None, tracks_file=args.save_tracks_to)
    print("\n".join(run_summary(run, args.track)))
    return 0


if __name__ == "__main__":
    from text_spotting.command_line import run_main
    from text_spotting.inference import InferenceError
    from text_spotting.inference.video import FrameSourceError

    run_main(main, (FrameSourceError, InferenceError))
