"""What every command-line script shares: finding its template, list flags, and one-line errors."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from .templates import TEMPLATE_FILE, TemplateError


def comma_list(value: str) -> list[str]:
    """``"a.json,b.json"`` -> ``["a.json", "b.json"]`` (argparse type)."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected one or more comma-separated paths")
    return items


def image_size(value: str) -> tuple[int, int]:
    """``"640x384"`` -> ``(640, 384)``, width x height, each at least 32 (argparse type for ``--input-size``)."""
    from .synthetic.dataset_writer import parse_size  # the one parser of WxH; imported late (it pulls in the generator)

    try:
        return parse_size(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_template_argument(parser: argparse.ArgumentParser, script_file: str) -> None:
    """``--template DIR``: the template/work dir whose template.yaml gives the defaults.

    Defaults to the script's own directory when it is an instantiated work dir (where the script was copied to).
    """
    own_dir = Path(script_file).resolve().parent
    default = own_dir if (own_dir / TEMPLATE_FILE).is_file() else None
    parser.add_argument("--template", type=Path, default=default,
                        help="template or work dir with template.yaml and model.py (default: this script's dir "
                             "when it is a work dir made by instantiate_template.py)")


def require_template(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    if args.template is None:
        parser.error("no template: run the copy of this script in a work dir made by tools/instantiate_template.py, "
                     "or pass --template model_templates/<name>")
    return args.template


def run_main(main: Callable[[], int], expected: tuple[type[BaseException], ...] = ()) -> None:
    """Runs ``main`` and turns the project's input errors into one ``error: ...`` line and exit code 2."""
    from .training.checkpoint import CheckpointError

    try:
        sys.exit(main())
    except (TemplateError, CheckpointError, *expected) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
