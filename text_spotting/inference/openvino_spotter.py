"""The exported text spotter (SPEC §4) run with OpenVINO: detector, text encoder, then the one-step text decoder in a
loop over all words of an image at once.

Pre- and post-processing are the eager spotter's (:mod:`.processing`), so an IR and the checkpoint it came from
return the same words. Images go through one at a time (:meth:`OpenVINOTextSpotter.predict`, latency mode) or
overlapped, up to ``num_requests`` in flight (:meth:`~OpenVINOTextSpotter.submit` /
:meth:`~OpenVINOTextSpotter.results`, or the :meth:`~OpenVINOTextSpotter.predict_async` generator for a video loop).
"""
from __future__ import annotations

import collections
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ..models.ctc import CTCCodec, ctc_texts, softmax
from ..models.text_codec import EOS_INDEX, SOS_INDEX, TextCodec
from ..models.word_crops import CropSpec
from .errors import InferenceError
from .latency import LATENCY_KEYS, StageClock
from .processing import NetworkDetections, texts_from_symbols
from .spotter import TextSpotter
from .words import SpottedWord

#: The networks of an export and the names of their inputs and outputs (SPEC §4): the detector, then the attention
#: kind's encoder and decoder or the ctc kind's crop recognizer.
NETWORK_PORTS = {
    "detector": (("image",), ("boxes", "labels", "masks")),
    "encoder": (("input",), ("output",)),
    "decoder": (("prev_symbol", "prev_hidden", "encoder_outputs"), ("output", "hidden")),
    "recognizer": (("crops",), ("logits",)),
}
#: The words axis of each attention-recognizer input. An omz-layout export (Open Model Zoo's shapes) fixes it to 1;
#: it is made dynamic again on loading, so all words of an image are still read in one call.
WORDS_AXES = {"input": 0, "prev_symbol": 0, "prev_hidden": 1, "encoder_outputs": 0}


@dataclass
class AsyncResult:
    """The words of one image submitted with :meth:`OpenVINOTextSpotter.submit`.

    Attributes:
        userdata: what was passed with the image (``predict_async`` passes the image itself).
        words: the words found, in the image's pixel coordinates.
        latency_ms: this image's milliseconds per stage (keys of ``last_latency_ms``).
    """

    userdata: Any
    words: list[SpottedWord]
    latency_ms: dict[str, float] = field(default_factory=dict)


class _InferRequests:
    """One infer request of each network: what one image in flight needs."""

    def __init__(self, compiled: dict):
        for role, network in compiled.items():
            setattr(self, role, network.create_infer_request())


class OpenVINOTextSpotter(TextSpotter):
    """An exported text spotter (``model.xml``, ``model_text_recognition_head_encoder.xml``,
    ``model_text_recognition_head_decoder.xml`` and ``export_config.yaml``) compiled for one OpenVINO device.

    Args:
        path: the export dir, its ``model.xml`` or its ``model.bin``.
        device: OpenVINO device name (``CPU``, ``GPU``, ``AUTO``...).
        num_threads: ``INFERENCE_NUM_THREADS`` of every network (None: OpenVINO's choice, all cores).
        num_requests: images that may be in flight at once. 1 compiles for latency (``PERFORMANCE_HINT``
            ``LATENCY``); more compiles for throughput (``THROUGHPUT``, that many requests) and lets
            :meth:`submit` overlap images.

    Attributes:
        config: the export's ``export_config.yaml`` (alphabet, input size, thresholds, file digests...).
        input_size: ``(width, height)`` of the network input.
        last_latency_ms: milliseconds per stage of the last ``predict`` call (summed over its images) or of the last
            image collected from ``results``: ``preprocess`` (resize, pad, to float), ``detector``, ``encoder``,
            ``decoder`` (the decoding loop and turning symbols into words), ``postprocess`` (mask pasting,
            quadrilaterals) and ``total``.

    Raises ``InferenceError`` (one line naming the file) for a missing, broken, changed or foreign IR
    (``text_spotting.export.load_export_config`` checks each IR's rt_info and sha256).

    An export made with ``--layout omz`` (Open Model Zoo's batch-1 encoder and decoder) runs as well: their number of
    words is made dynamic again on loading, so it reads the same words as the default layout, as fast.
    """

    def __init__(self, path: str | Path, device: str = "CPU", num_threads: int | None = None,
                 num_requests: int = 1):
        import openvino as ov

        from ..export import ExportFormatError, load_export_config, recognizer_kind, resolve_export_dir

        if int(num_requests) < 1:
            raise ValueError(f"num_requests must be at least 1, got {num_requests}")
        try:
            # Checks that the three IRs are this export's (rt_info) and unchanged (sha256 of each .bin).
            self.config = load_export_config(path)
            self.export_dir = resolve_export_dir(path)
        except ExportFormatError as error:
            raise InferenceError(str(error)) from None
        self.files = {role: self.export_dir / name for role, name in self.config["files"].items()}
        if Path(path).suffix in (".xml", ".bin") and Path(path).stem != self.files["detector"].stem:
            raise InferenceError(f"{path}: not the detector of the export in {self.export_dir} (expected "
                                 f"{self.files['detector'].name} or its .bin, or the directory)")
        self.input_size = tuple(int(v) for v in self.config["input_size"])
        self.recognizer_kind = recognizer_kind(self.config)
        case_sensitive = bool(self.config.get("case_sensitive", False))
        if self.recognizer_kind == "ctc":
            self.codec = CTCCodec(self.config["alphabet"], case_sensitive=case_sensitive)
            self.crop_spec = CropSpec(**self.config["crop"])
        else:
            self.codec = TextCodec(self.config["alphabet"], int(self.config["max_length"]),
                                   case_sensitive=case_sensitive)
        self.recognition_threshold = float(self.config["thresholds"]["recognition"])
        self.device = device
        self.num_threads = num_threads
        self.num_requests = int(num_requests)

        core = ov.Core()
        models = {role: self._read_network(core, role) for role in self.config["files"]}
        # f32 arithmetic: OpenVINO's CPU plugin otherwise picks bfloat16 on processors that have it, and the IR would
        # no longer read what the checkpoint reads (FP16 exports store their weights in half precision only).
        compile_config = {"PERFORMANCE_HINT": "LATENCY" if self.num_requests == 1 else "THROUGHPUT",
                          "INFERENCE_PRECISION_HINT": "f32"}
        if self.num_requests > 1:
            compile_config["PERFORMANCE_HINT_NUM_REQUESTS"] = str(self.num_requests)
        if num_threads:
            compile_config["INFERENCE_NUM_THREADS"] = str(int(num_threads))
        self._compiled = {}
        for role, model in models.items():
            try:
                self._compiled[role] = core.compile_model(model, device, compile_config)
            except RuntimeError as error:
                raise InferenceError(f"{self.files[role]}: cannot be compiled for {device}: "
                                     f"{_first_line(error)}") from None
        if self.recognizer_kind == "attention":
            decoder_inputs = {port.get_any_name(): port for port in self._compiled["decoder"].inputs}
            self._symbol_dtype = decoder_inputs["prev_symbol"].get_element_type().to_dtype()
            self.hidden_size = int(self.config.get("decoder_hidden_size")
                                   or decoder_inputs["prev_hidden"].get_partial_shape()[2].get_length())

        self._idle_requests: queue.Queue[_InferRequests] = queue.Queue()
        for _ in range(self.num_requests):
            self._idle_requests.put(_InferRequests(self._compiled))
        self._in_flight = threading.Semaphore(self.num_requests)
        self._pending: collections.deque[tuple[Any, Future]] = collections.deque()
        self._pool: ThreadPoolExecutor | None = None
        self.last_latency_ms = dict.fromkeys(LATENCY_KEYS, 0.0)

    # -- loading ----------------------------------------------------------------------------------------------------

    def _read_network(self, core, role: str):
        xml = self.files[role]
        try:
            model = core.read_model(xml)
        except RuntimeError as error:
            raise InferenceError(f"{xml}: cannot be read as an OpenVINO IR: {_first_line(error)}") from None
        inputs, outputs = NETWORK_PORTS[role]
        if role == "detector" and self.recognizer_kind == "attention":
            outputs = outputs + ("text_features",)
        for kind, names, ports in (("input", inputs, model.inputs), ("output", outputs, model.outputs)):
            found = {name for port in ports for name in port.get_names()}
            missing = [name for name in names if name not in found]
            if missing:
                raise InferenceError(f"{xml}: {kind} {missing[0]!r} missing (has {sorted(found)})")
        if role in ("encoder", "decoder"):
            _make_words_dynamic(model, xml)
        if role == "detector":
            shape = model.input("image").get_partial_shape()
            expected = [1, 3, self.input_size[1], self.input_size[0]]
            if shape.is_dynamic or [d.get_length() for d in shape] != expected:
                raise InferenceError(f"{xml}: input 'image' has shape {shape}, but export_config.yaml says "
                                     f"input_size {list(self.input_size)} (expected {expected})")
        return model

    def model_info(self) -> dict:
        """What ``metrics.yaml`` records about this model: format, precision, template, input size and digests."""
        return {"format": "openvino", "precision": self.config.get("precision"),
                "sha256": (self.config.get("files_sha256") or {}).get("detector"),
                "files_sha256": dict(self.config.get("files_sha256") or {}),
                "source_weights_sha256": self.config.get("source_weights_sha256"),
                "weights": str(self.files["detector"]), "template": self.config.get("template"),
                "input_size": list(self.input_size), "device": self.device,
                **({"quantization": self.config["quantization"]} if "quantization" in self.config else {})}

    # -- one image --------------------------------------------------------------------------------------------------

    def detect(self, padded: np.ndarray, latency: dict | None = None) -> NetworkDetections:
        """Runs the networks on one input image ``[H, W, 3]`` uint8 BGR of exactly ``input_size``: detections in
        its pixel frame. Stage milliseconds are added to ``latency`` when given."""
        latency = {} if latency is None else latency
        clock = StageClock(latency)
        self.check_input(padded)
        blob = padded.transpose(2, 0, 1)[None].astype(np.float32)
        clock.lap("preprocess")
        requests = self._idle_requests.get()
        try:
            return self._run_networks(blob, requests, clock)
        finally:
            self._idle_requests.put(requests)

    def read_crops(self, crops: np.ndarray) -> tuple[list[str], np.ndarray]:
        """ctc kind: the texts and scores of word crops ``[N, 3, Hc, W]`` uint8 BGR, in one recognizer call."""
        requests = self._idle_requests.get()
        try:
            requests.recognizer.infer({"crops": crops}, share_inputs=True)
            logits = requests.recognizer.get_tensor("logits").data
            return ctc_texts(softmax(logits, axis=2), self.codec, self.recognition_threshold)
        finally:
            self._idle_requests.put(requests)

    def _run_networks(self, blob: np.ndarray, requests: _InferRequests, clock: StageClock) -> NetworkDetections:
        detector = requests.detector
        detector.infer({"image": blob}, share_inputs=True)
        boxes = detector.get_tensor("boxes").data.reshape(-1, 5).copy()
        if len(boxes) == 0:
            clock.lap("detector")
            return NetworkDetections.empty()
        masks = detector.get_tensor("masks").data.copy()
        if self.recognizer_kind == "ctc":  # the words are read from crops once their quads are known
            clock.lap("detector")
            return NetworkDetections(boxes=boxes, masks=masks, texts=[""] * len(boxes),
                                     text_scores=np.zeros(len(boxes), np.float32))
        text_features = detector.get_tensor("text_features").data
        clock.lap("detector")

        encoder = requests.encoder
        encoder.infer({"input": text_features}, share_inputs=True)
        encoded = encoder.get_tensor("output").data
        # [N, D, S, S] -> [N, S*S, D], the layout the decoder attends over (flatten_encoder_outputs).
        encoder_outputs = np.ascontiguousarray(encoded.reshape(encoded.shape[0], encoded.shape[1], -1)
                                               .transpose(0, 2, 1))
        clock.lap("encoder")

        symbols, text_scores = greedy_decode_ir(requests.decoder, encoder_outputs, self.hidden_size,
                                                self.codec.sequence_length, self._symbol_dtype)
        texts = texts_from_symbols(symbols, text_scores, self.codec, self.recognition_threshold)
        clock.lap("decoder")
        return NetworkDetections(boxes=boxes, masks=masks, texts=texts, text_scores=text_scores)

    # -- many images in flight --------------------------------------------------------------------------------------

    def submit(self, image: np.ndarray, keep_masks: bool = False, userdata: Any = None) -> None:
        """Starts spotting ``image`` in the background; collect it with :meth:`results`.

        At most ``num_requests`` images are in flight: when that many are, this waits until one is done.
        """
        self._in_flight.acquire()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.num_requests, thread_name_prefix="openvino-text-spotter")
        try:
            future = self._pool.submit(self.spot, image, keep_masks)
        except BaseException:
            self._in_flight.release()
            raise
        future.add_done_callback(lambda _: self._in_flight.release())
        self._pending.append((userdata, future))

    def results(self, wait: bool = False) -> list[AsyncResult]:
        """Finished images in the order they were submitted: those done so far, or all of them when ``wait``.

        An error raised while spotting an image is raised here.
        """
        finished = []
        while self._pending and (wait or self._pending[0][1].done()):
            userdata, future = self._pending.popleft()
            words, latency = future.result()
            self.last_latency_ms = latency
            finished.append(AsyncResult(userdata, words, latency))
        return finished

    def predict_async(self, images: Iterable[np.ndarray], keep_masks: bool = False) -> Iterator[AsyncResult]:
        """Spots a stream of images (a video, a webcam) with up to ``num_requests`` in flight, yielding each image's
        result in order as soon as it is ready; ``result.userdata`` is the image.

        Images still in flight when the loop stops early are finished and dropped. Don't interleave with
        :meth:`submit`: collect what was submitted first.
        """
        if self._pending:
            raise RuntimeError(f"{len(self._pending)} submitted image(s) not collected yet: call results(wait=True) "
                               f"before predict_async")
        try:
            for image in images:
                self.submit(image, keep_masks, userdata=image)
                yield from self.results()
            yield from self.results(wait=True)
        finally:
            while self._pending:
                self._pending.popleft()[1].exception()  # waits; the result is no longer wanted

    @property
    def in_flight(self) -> int:
        """Images submitted and not yet collected with :meth:`results`."""
        return len(self._pending)

    def close(self) -> None:
        """Waits for images in flight and stops the background threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "OpenVINOTextSpotter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def greedy_decode_ir(decoder, encoder_outputs: np.ndarray, hidden_size: int, max_steps: int,
                     symbol_dtype=np.int64) -> tuple[np.ndarray, np.ndarray]:
    """``text_recognition_head.greedy_decode`` over a one-step decoder IR (SPEC §4).

    Every word starts from SOS and a zero state and feeds back its top-1 symbol; the loop ends after ``max_steps``
    steps or once every word has emitted EOS. Words are independent rows of the batch, so a word that has emitted
    EOS simply leaves it (the PyTorch loop keeps computing it and ignores the result): later steps run only the
    words still being read. Inputs are numpy buffers shared with the request, not copied; they are rebuilt only
    when a word leaves.

    Args:
        decoder: an infer request of the decoder IR (inputs ``prev_symbol`` [N], ``prev_hidden`` [1, N, H],
            ``encoder_outputs`` [N, L, D]; outputs ``output`` [N, V] logits, ``hidden`` [1, N, H]).
        encoder_outputs: ``[N, L, D]`` float32, C-contiguous.
        hidden_size: H.
        max_steps: at most this many steps (``max_length + 1``).
        symbol_dtype: numpy type of ``prev_symbol``.

    Returns:
        symbols: ``[N, max_steps]`` int64 top-1 ids, EOS at and after a word's first EOS.
        scores: ``[N]`` float32 product of the top-1 probabilities up to and including EOS.
    """
    num_words = encoder_outputs.shape[0]
    symbols = np.full((num_words, max_steps), EOS_INDEX, dtype=np.int64)
    scores = np.ones((num_words,), dtype=np.float32)
    reading = np.arange(num_words)  # rows of the words still being read
    symbol = np.full((num_words,), SOS_INDEX, dtype=symbol_dtype)
    hidden = np.zeros((1, num_words, hidden_size), dtype=np.float32)
    _share_inputs(decoder, prev_symbol=symbol, prev_hidden=hidden, encoder_outputs=encoder_outputs)
    for step in range(max_steps):
        decoder.infer()
        logits = decoder.get_tensor("output").data
        top = logits.argmax(axis=1)
        # the top-1 softmax probability: exp(0) / sum(exp(logits - max))
        top_prob = 1.0 / np.exp(logits - logits[np.arange(len(top)), top][:, None]).sum(axis=1)
        scores[reading] *= top_prob.astype(np.float32)
        symbols[reading, step] = top
        still_reading = top != EOS_INDEX
        if still_reading.all():
            symbol[:] = top
            hidden[:] = decoder.get_tensor("hidden").data
            continue
        if not still_reading.any():
            break
        reading = reading[still_reading]
        symbol = top[still_reading].astype(symbol_dtype)
        hidden = np.ascontiguousarray(decoder.get_tensor("hidden").data[:, still_reading])
        encoder_outputs = np.ascontiguousarray(encoder_outputs[still_reading])
        _share_inputs(decoder, prev_symbol=symbol, prev_hidden=hidden, encoder_outputs=encoder_outputs)
    return symbols, scores


def _make_words_dynamic(model, xml: Path) -> None:
    """Reshapes an encoder or decoder IR with a fixed number of words (``export.py --layout omz``) to any number."""
    import openvino as ov

    shapes = {}
    for name, axis in WORDS_AXES.items():
        if any(name in port.get_names() for port in model.inputs):
            shape = model.input(name).get_partial_shape()
            if shape.rank.is_static and shape.rank.get_length() > axis and shape[axis].is_static:
                shape[axis] = ov.Dimension.dynamic()
                shapes[name] = shape
    if not shapes:
        return
    try:
        model.reshape(shapes)
    except RuntimeError as error:
        raise InferenceError(f"{xml}: its number of words is fixed and cannot be made dynamic "
                             f"({_first_line(error)}); export again without --layout omz") from None


def _share_inputs(request, **arrays: np.ndarray) -> None:
    """Sets the request's inputs to tensors over these (C-contiguous) numpy arrays, without copying them."""
    import openvino as ov

    for name, array in arrays.items():
        request.set_tensor(name, ov.Tensor(array, shared_memory=True))


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
