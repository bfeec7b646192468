"""What every command-line script shares: finding its template, list flags, and one-line errors."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from .values import parse_size


def comma_list(value: str) -> list[str]:
    """``"a.json,b.json"`` -> ``["a.json", "b.json"]`` (argparse type)."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected one or more comma-separated paths")
    return items


def one_path(value: str) -> Path:
    """A single path for a flag of the shared vocabulary whose name is plural (``--test-ann-files`` of a tool that
    reads one set; argparse type)."""
    if len(comma_list(value)) > 1:
        raise argparse.ArgumentTypeError(f"{value!r}: this tool takes one path here, not a comma-separated list")
    return Path(value.strip())


def image_size(value: str) -> tuple[int, int]:
    """``"640x384"`` -> ``(640, 384)``, width x height, each at least 32 (argparse type for ``--input-size``)."""
    try:
        return parse_size(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_calibration_arguments(parser: argparse.ArgumentParser) -> None:
    """The calibration set of ``--precision INT8``: annotated images NNCF measures the activations on."""
    from .export.quantization import DEFAULT_CALIBRATION_IMAGES

    group = parser.add_argument_group("INT8 calibration (--precision INT8)")
    group.add_argument("--calibration-ann-files", type=comma_list, metavar="A.json[,B.json]",
                       help="COCO-with-text file(s) of the calibration images: training images or generated "
                            "scenes, never the set you report on")
    group.add_argument("--calibration-data-roots", type=comma_list, metavar="ROOT[,ROOT]",
                       help="the image folder of each calibration annotation file")
    group.add_argument("--calibration-images", type=int, default=DEFAULT_CALIBRATION_IMAGES, metavar="N",
                       help=f"use at most N of them, evenly spaced (default {DEFAULT_CALIBRATION_IMAGES})")


def check_calibration_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuses calibration flags that don't go together, or that come without ``--precision INT8``."""
    if bool(args.calibration_ann_files) != bool(args.calibration_data_roots):
        parser.error("--calibration-ann-files and --calibration-data-roots go together")
    if args.calibration_ann_files and args.precision != "INT8":
        parser.error("the calibration flags are for --precision INT8")
    if args.calibration_images < 1:
        parser.error("--calibration-images must be at least 1")


def load_calibration(args: argparse.Namespace):
    """The ``CalibrationSet`` the calibration flags name, or None when none are given (raises ``ExportError`` for a
    missing or broken file)."""
    from .export.quantization import load_calibration_set

    if not args.calibration_ann_files:
        return None
    return load_calibration_set(args.calibration_ann_files, args.calibration_data_roots, args.calibration_images)


class _RenamedFlag(argparse.Action):
    """An old spelling of a flag: using it stops with one line that names the flag to use instead."""

    def __init__(self, option_strings, dest, new_name: str, **kwargs):
        super().__init__(option_strings, dest, nargs="*", help=argparse.SUPPRESS, **kwargs)
        self.new_name = new_name

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now {self.new_name} (one flag vocabulary for all tools: README, 'Flags')")


def add_renamed_flags(parser: argparse.ArgumentParser, renamed: dict[str, str]) -> None:
    """Rejects each old spelling (``{"--ann": "--test-ann-files"}``) with a hint instead of argparse's guess."""
    for old, new in renamed.items():
        parser.add_argument(old, action=_RenamedFlag, new_name=new, dest=f"renamed_{old.lstrip('-')}")


def add_template_argument(parser: argparse.ArgumentParser, script_file: str, or_checkpoints: bool = False) -> None:
    """``--template DIR``: the template/work dir whose template.yaml gives the defaults.

    Defaults to the script's own directory when it is an instantiated work dir (where the script was copied to).
    ``or_checkpoints``: the tool otherwise takes the template of the checkpoint it loads (says so in the help).
    """
    from .templates import TEMPLATE_FILE  # imported here: the converters use this module without mmengine

    own_dir = Path(script_file).resolve().parent
    default = own_dir if (own_dir / TEMPLATE_FILE).is_file() else None
    otherwise = ", else the one the checkpoint was trained from" if or_checkpoints else ""
    parser.add_argument("--template", type=Path, default=default,
                        help=f"template or work dir with template.yaml and model.py (default: this script's dir "
                             f"when it is a work dir made by instantiate_template.py{otherwise})")


#: Frames in flight at once when an IR plays a video or webcam (OpenVINO infer requests: the detector of one frame
#: runs while the words of the one before are read).
VIDEO_ASYNC_REQUESTS = 2


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of a video / webcam run, with one set of defaults for visualize.py and demo.py --video:
    ``--async-requests``, ``--track/--no-track`` (on for a video) and ``--save-tracks-to``. Check them with
    :func:`check_video_arguments` after parsing."""
    parser.add_argument("--async-requests", type=int, default=VIDEO_ASYNC_REQUESTS,
                        help=f"frames in flight at once for an IR (OpenVINO infer requests; default "
                             f"{VIDEO_ASYNC_REQUESTS}). 1 = one frame at a time (lowest latency). A checkpoint always "
                             f"runs one at a time")
    parser.add_argument("--track", action=argparse.BooleanOptionalAction, default=None,
                        help="follow words from frame to frame: stable ids and texts voted over each word's recent "
                             "readings (default: on for --video, off for --images)")
    parser.add_argument("--save-tracks-to", type=Path, metavar="FILE",
                        help="also write the tracks as JSON lines, one per track and frame: frame, id, quad, text "
                             "(voted), text_score (its vote share), score (detection), missed (needs tracking)")


def check_video_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fills ``args.track``'s default (on for ``--video``) and refuses impossible combinations."""
    if args.track is None:
        args.track = args.video is not None
    if args.save_tracks_to is not None and not args.track:
        parser.error("--save-tracks-to needs tracking (on by default for --video; --track for --images)")
    if args.async_requests < 1:
        parser.error("--async-requests must be at least 1")


def require_template(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    if args.template is None:
        parser.error("no template: run the copy of this script in a work dir made by tools/instantiate_template.py, "
                     "or pass --template model_templates/<name>")
    return args.template


def run_main(main: Callable[[], int], expected: tuple[type[BaseException], ...] = ()) -> None:
    """Runs ``main`` and turns the project's input errors into one ``error: ...`` line and exit code 2."""
    from .checkpoint import CheckpointError
    from .templates import TemplateError

    try:
        sys.exit(main())
    except (TemplateError, CheckpointError, *expected) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
