#!/usr/bin/env python3
"""Exports a trained text spotter to ONNX and OpenVINO IR (SPEC §4). Run the copy in a work dir:

    python export.py --load-weights outputs/ckpt/best.pth --save-model-to export

Writes into the output directory: model.xml|bin (detector: raw BGR image in, boxes / labels / masks / text features
out), model_text_recognition_head_encoder.xml|bin and model_text_recognition_head_decoder.xml|bin (one decoding
step), the three ONNX files they were converted from, and export_config.yaml (alphabet, input size, thresholds,
sha256 of every IR). An existing export in the output directory is replaced only once the new one is complete.

--layout omz (attention kind) writes the same files exactly as Open Model Zoo's text-spotting-0005 has them, so OMZ's
text_spotting_demo.py runs them unchanged: batch-1 encoder and decoder, labels 1-based, the alphabet in OMZ's order;
it prints the demo's command line. Our own runtime (eval.py, visualize.py) reads both layouts.
"""
import argparse
import shlex
from pathlib import Path

from text_spotting.command_line import (add_calibration_arguments, add_template_argument, check_calibration_arguments,
                                       image_size, load_calibration, require_template, run_main)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", required=True,
                        help="checkpoint to export (snapshot.pth, latest.pth, best.pth)")
    parser.add_argument("--save-model-to", type=Path, required=True,
                        help="output directory: created, or replaced when it holds a previous export (a directory "
                             "with other files is refused)")
    parser.add_argument("--precision", choices=("FP32", "FP16", "INT8"), default="FP32",
                        help="precision of the IR (default FP32). FP16 halves the .bin files; OpenVINO "
                             "decompresses them when it loads the model, so CPU speed stays about the same. INT8 "
                             "(ctc kind): NNCF post-training quantization of the detector and the recognizer on "
                             "the calibration images below, for speed on a CPU")
    parser.add_argument("--layout", choices=("dynamic", "omz"), default="dynamic",
                        help="dynamic (default): the recognizer reads all words of an image in one call, what our "
                             "runtime runs fastest. omz (attention kind): Open Model Zoo text-spotting-0005's exact "
                             "shapes (one word per call), labels and alphabet order, for OMZ's text_spotting_demo")
    parser.add_argument("--onnx-only", action="store_true",
                        help="write the ONNX files and export_config.yaml only, no OpenVINO IR")
    parser.add_argument("--input-size", metavar="WxH", default=None, type=image_size,
                        help="the IR's input size (default: the template's). The model is fully convolutional up "
                             "to its RoI heads, so e.g. 1280x768 reads the small words of 1280x720 photos at full "
                             "resolution, at about 4x the detector time")
    add_calibration_arguments(parser)
    from text_spotting.export.quantization import RECOGNIZER_MAX_ACCURACY_DROP

    parser.add_argument("--max-accuracy-drop", type=float, default=RECOGNIZER_MAX_ACCURACY_DROP, metavar="D",
                        help=f"INT8: the most word accuracy (0..1, measured on the calibration words) the INT8 "
                             f"recognizer may lose against the floating-point one; beyond it the recognizer stays "
                             f"in floating point (default {RECOGNIZER_MAX_ACCURACY_DROP}; 1 = always INT8)")
    add_template_argument(parser, __file__)
    args = parser.parse_args(argv)
    args.template = require_template(args, parser)
    if args.precision == "INT8" and not args.calibration_ann_files:
        parser.error("--precision INT8 needs --calibration-ann-files and --calibration-data-roots (training images "
                     "or generated scenes: tools/generate_synthetic_dataset.py)")
    if args.onnx_only and args.precision != "FP32":
        parser.error("--precision applies to the OpenVINO IR; --onnx-only writes FP32 ONNX files")
    if args.onnx_only and args.layout != "dynamic":
        parser.error("--layout omz shapes the OpenVINO IRs (what Open Model Zoo's demo reads); --onnx-only writes none")
    check_calibration_arguments(args, parser)
    if not 0 <= args.max_accuracy_drop <= 1:
        parser.error(f"--max-accuracy-drop is a share of words, 0..1; got {args.max_accuracy_drop}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from text_spotting.export import export_model, omz_demo_arguments
    from text_spotting.export.export_config import OMZ_MAX_STEPS
    from text_spotting.templates import load_config, with_input_size

    cfg = with_input_size(load_config(args.template), args.input_size)
    calibration = load_calibration(args)
    result = export_model(cfg, args.save_model_to, weights=args.load_weights, precision=args.precision,
                          onnx_only=args.onnx_only, layout=args.layout, calibration=calibration,
                          max_accuracy_drop=args.max_accuracy_drop)
    config = result.config
    print(f"exported template '{config['template']}' ({config['input_size'][0]}x{config['input_size'][1]}, "
          f"{config['precision']}) to {result.output_dir}")
    for path in result.files:
        print(f"  {path.name:48s} {path.stat().st_size / 2 ** 20:8.2f} MiB")
    if calibration is not None:
        print(f"INT8 calibrated on {len(calibration.images)} images ({calibration.num_words} words) of "
              f"{', '.join(calibration.ann_files)}")
        recognizer = config["quantization"]["recognizer"]
        accuracy = recognizer["word_accuracy"]
        print(f"recognizer kept in {recognizer['precision']}: word accuracy on the calibration words FP32 "
              f"{accuracy['FP32']:.3f}, INT8 {accuracy['INT8']:.3f} (at most {recognizer['max_accuracy_drop']} "
              f"lower allowed: --max-accuracy-drop)")
    print("time: " + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in result.seconds.items()))
    if args.layout == "omz":
        print("Open Model Zoo's demo (demos/text_spotting_demo/python) reads it as our runtime does with:\n  "
              "python text_spotting_demo.py " + " ".join(shlex.quote(a) for a in omz_demo_arguments(
                  result.output_dir, config)) + " -i IMAGES")
        if int(config["max_length"]) != OMZ_MAX_STEPS:
            print(f"note: the demo reads up to {OMZ_MAX_STEPS} characters a word, this model up to "
                  f"{config['max_length']}: a word that runs longer than either comes out differently")
    return 0


if __name__ == "__main__":
    from text_spotting.export import ExportError

    run_main(main, (ExportError,))
