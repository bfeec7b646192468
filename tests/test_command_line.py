"""The shared flag vocabulary: old spellings stop with a hint, one-path flags reject lists, sizes parse once."""
import argparse
import importlib.util
import subprocess
import sys

import pytest

from text_spotting.command_line import add_renamed_flags, image_size, one_path
from text_spotting.values import parse_size

from conftest import REPO_ROOT


def parser_with_renames():
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--test-ann-files", type=one_path)
    parser.add_argument("--output")
    add_renamed_flags(parser, {"--ann": "--test-ann-files", "--out": "--output"})
    return parser


@pytest.mark.parametrize("argv, hint", [(["--ann", "a.json"], "--ann is now --test-ann-files"),
                                        (["--out", "x"], "--out is now --output"),
                                        (["--out"], "--out is now --output")])
def test_an_old_spelling_stops_with_one_line_naming_the_new_one(argv, hint, capsys):
    with pytest.raises(SystemExit) as info:
        parser_with_renames().parse_args(argv)
    assert info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tool: error:")]
    assert len(errors) == 1 and hint in errors[0]


def test_the_new_spellings_parse_and_are_not_taken_for_an_abbreviation():
    args = parser_with_renames().parse_args(["--test-ann-files", " a.json ", "--output", "dir"])
    assert str(args.test_ann_files) == "a.json" and args.output == "dir"
    with pytest.raises(argparse.ArgumentTypeError, match="takes one path"):
        one_path("a.json,b.json")


def test_sizes_parse_in_one_place():
    assert parse_size(" 640x384 ") == (640, 384) == image_size("640X384")
    for bad, message in (("640", "WIDTHxHEIGHT"), ("16x384", "at least 32")):
        with pytest.raises(ValueError, match=message):
            parse_size(bad)
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            image_size(bad)


TOOLS_WITH_OUTPUT = ("convert_icdar", "convert_cvat", "draw_annotations", "generate_synthetic_dataset",
                     "generate_synthetic_clip", "import_pretrained", "make_gallery", "plot_training_curve", "demo")


@pytest.mark.parametrize("tool", TOOLS_WITH_OUTPUT)
def test_every_tool_that_makes_something_takes_output_and_rejects_out(tool, capsys):
    spec = importlib.util.spec_from_file_location(f"tool_{tool}", REPO_ROOT / "tools" / f"{tool}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit):
        getattr(module, "parse_args", getattr(module, "main"))(["--out", "x"])
    assert "--out is now --output" in capsys.readouterr().err


@pytest.mark.parametrize("tool, old, new", [("soak_visualize", "--report", "--save-metrics-to"),
                                            ("evaluate_tracking", "--ground-truth", "--test-ann-files")])
def test_renamed_tool_flags_give_the_new_name(tool, old, new, capsys):
    spec = importlib.util.spec_from_file_location(f"tool_{tool}", REPO_ROOT / "tools" / f"{tool}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit):
        module.parse_args(["--load-weights", "w", "--video", "c.mp4", old, "x"])
    assert f"{old} is now {new}" in capsys.readouterr().err


def test_no_tool_edits_sys_path():
    for path in sorted((REPO_ROOT / "tools").glob("*.py")):
        assert "sys.path" not in path.read_text(encoding="utf-8"), path


def test_importing_the_package_registers_nothing_until_asked():
    code = ("import sys, text_spotting; "
            "print(sorted(m for m in sys.modules if m.startswith('text_spotting.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "['text_spotting.registration']"
