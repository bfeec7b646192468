"""Recognition head: codec, encoder/decoder shapes, loss masking, greedy decoding, and learning a toy task."""
import pytest
import torch

from text_spotting.models import (EOS_INDEX, IGNORE_INDEX, SOS_INDEX, AttentionDecoderStep, TextCodec, TextEncoder,
                                  TextRecognitionHead, class_order, flatten_encoder_outputs, greedy_decode,
                                  reorder_alphabet, sequence_cross_entropy, sinusoidal_position_encoding_2d,
                                  teacher_forced_logits)

ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'


# --------------------------------------------------------------------------------------------------------------------
# TextCodec
def test_codec_classes_follow_spec():
    codec = TextCodec(ALPHABET, max_length=5)
    assert (SOS_INDEX, EOS_INDEX) == (0, 1)
    assert codec.num_classes == len(ALPHABET) + 2
    targets, valid = codec.encode(['a0'])
    assert targets.dtype == torch.long and valid.dtype == torch.bool
    assert targets.tolist() == [[12, 2, EOS_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]


def test_codec_round_trip_and_case_folding():
    codec = TextCodec(ALPHABET, max_length=6)
    words = ['hello', 'Exit', '42', 'abcdef', 'z']
    targets, valid = codec.encode(words)
    assert targets.shape == (5, 7)
    assert valid.all()
    assert codec.decode(targets) == ['hello', 'exit', '42', 'abcdef', 'z']


def test_codec_marks_unencodable_words_invalid_with_ignored_targets():
    codec = TextCodec(ALPHABET, max_length=4)
    targets, valid = codec.encode(['ok', 'café', 'toolong', '', 'a-b', 'four'])
    assert valid.tolist() == [True, False, False, False, False, True]
    assert (targets[~valid] == IGNORE_INDEX).all()
    assert codec.in_alphabet('toolong') and not codec.in_alphabet('a-b')


def test_codec_case_sensitive_keeps_case():
    codec = TextCodec('abAB', max_length=3, case_sensitive=True)
    targets, valid = codec.encode(['aB', 'c'])
    assert valid.tolist() == [True, False]
    assert codec.decode(targets[:1]) == ['aB']


def test_codec_decode_stops_at_eos_and_skips_sos():
    codec = TextCodec('abc', max_length=5)
    ids = torch.tensor([[2, SOS_INDEX, 3, EOS_INDEX, 4, 4],
                        [EOS_INDEX, 2, 2, 2, 2, 2],
                        [4, 4, 4, 4, 4, 4]])
    assert codec.decode(ids) == ['ab', '', 'cccccc']


@pytest.mark.parametrize('alphabet, message', [('', 'non-empty'), ('abca', 'repeated'), ('aB', 'upper-case')])
def test_codec_rejects_bad_alphabets(alphabet, message):
    with pytest.raises(ValueError, match=message):
        TextCodec(alphabet, max_length=3)


# --------------------------------------------------------------------------------------------------------------------
# Encoder and decoder step
def test_position_encoding_tells_every_position_apart():
    code = sinusoidal_position_encoding_2d(64, 28, 28)
    assert code.shape == (1, 64, 28, 28)
    vectors = code.flatten(2)[0].T  # [784, 64]
    distances = torch.cdist(vectors, vectors) + torch.eye(784) * 1e3
    assert distances.min() > 1e-3
    with pytest.raises(ValueError, match='divisible by 4'):
        sinusoidal_position_encoding_2d(30, 28, 28)


def test_encoder_output_shape():
    encoder = TextEncoder(in_channels=64, out_channels=256)
    out = encoder(torch.randn(3, 64, 28, 28))
    assert out.shape == (3, 256, 28, 28)
    assert flatten_encoder_outputs(out).shape == (3, 784, 256)
    # Row-major positions: position y * 28 + x holds column (y, x).
    assert torch.equal(flatten_encoder_outputs(out)[:, 2 * 28 + 5], out[:, :, 2, 5])


@pytest.mark.parametrize('num_words', [0, 3])
def test_decoder_step_shapes(num_words):
    decoder = AttentionDecoderStep(num_classes=38, encoder_channels=256, hidden_size=256)
    logits, hidden = decoder(torch.zeros(num_words, dtype=torch.long), torch.zeros(1, num_words, 256),
                             torch.randn(num_words, 784, 256))
    assert logits.shape == (num_words, 38)
    assert hidden.shape == (1, num_words, 256)


def test_decoder_step_treats_words_independently():
    torch.manual_seed(0)
    decoder = AttentionDecoderStep(num_classes=10, encoder_channels=16, hidden_size=8)
    symbols, hidden, memory = torch.tensor([0, 3, 5]), torch.randn(1, 3, 8), torch.randn(3, 784, 16)
    logits, new_hidden = decoder(symbols, hidden, memory)
    single_logits, single_hidden = decoder(symbols[1:2], hidden[:, 1:2], memory[1:2])
    assert torch.allclose(logits[1:2], single_logits, atol=1e-5)
    assert torch.allclose(new_hidden[:, 1:2], single_hidden, atol=1e-5)


# --------------------------------------------------------------------------------------------------------------------
# Loss
def test_sequence_cross_entropy_ignores_padding():
    torch.manual_seed(0)
    targets = torch.tensor([[3, 4, EOS_INDEX, IGNORE_INDEX], [5, EOS_INDEX, IGNORE_INDEX, IGNORE_INDEX]])
    logits = torch.randn(2, 4, 7)
    loss = sequence_cross_entropy(logits, targets)
    changed = logits.clone()
    changed[targets == IGNORE_INDEX] = torch.randn(3, 7) * 100
    assert torch.allclose(loss, sequence_cross_entropy(changed, targets))
    # ... and it is the mean over the 5 real positions.
    picked = torch.log_softmax(logits, -1)[[0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [3, 4, EOS_INDEX, 5, EOS_INDEX]]
    assert torch.allclose(loss, -picked.mean())


def small_head(**kwargs):
    defaults = dict(in_channels=8, alphabet='abcde', max_length=6, encoder_channels=16, hidden_size=16)
    defaults.update(kwargs)
    return TextRecognitionHead(**defaults)


def test_head_loss_skips_unencodable_words():
    torch.manual_seed(0)
    head = small_head()
    feats = torch.randn(3, 8, 28, 28)
    with_invalid = head.loss(feats, ['abc', 'axz', 'toolongword'])['loss_text']
    only_valid = head.loss(feats[:1], ['abc'])['loss_text']
    assert torch.allclose(with_invalid, only_valid)


def test_head_loss_trimmed_steps_equal_full_sequence_loss():
    torch.manual_seed(0)
    head = small_head(loss_weight=2.0)
    feats = torch.randn(2, 8, 28, 28)
    loss = head.loss(feats, ['ab', 'e'])['loss_text']
    targets, _ = head.codec.encode(['ab', 'e'])  # all max_length + 1 steps
    full = sequence_cross_entropy(teacher_forced_logits(head.decoder, head.encode(feats), targets), targets)
    assert torch.allclose(loss, 2.0 * full, atol=1e-6)


def test_head_loss_without_valid_words_is_zero_and_reaches_every_parameter():
    head = small_head()
    feats = torch.randn(2, 8, 28, 28, requires_grad=True)
    loss = head.loss(feats, ['###', 'xyz'])['loss_text']
    assert loss.item() == 0
    loss.backward()
    assert all(p.grad is not None and not p.grad.any() for p in head.parameters())
    assert feats.grad is not None


def test_head_loss_rejects_mismatched_texts():
    with pytest.raises(ValueError, match='2 texts for 3'):
        small_head().loss(torch.randn(3, 8, 28, 28), ['a', 'b'])


# --------------------------------------------------------------------------------------------------------------------
# Greedy decoding
def test_greedy_decoding_agrees_with_teacher_forcing_on_its_own_output():
    """For any weights: feeding the greedy output back with teacher forcing gives the same argmax at every step up to
    EOS, and the greedy score is the product of those steps' top-1 probabilities."""
    torch.manual_seed(3)
    head = small_head().eval()
    memory = head.encode(torch.randn(5, 8, 28, 28))
    ids, scores = greedy_decode(head.decoder, memory, max_steps=7)
    assert ids.shape == (5, 7) and scores.shape == (5,)
    targets = ids.clone()
    after_eos = (ids == EOS_INDEX).long().cumsum(1) - (ids == EOS_INDEX).long() > 0
    targets[after_eos] = IGNORE_INDEX
    with torch.no_grad():
        probs = teacher_forced_logits(head.decoder, memory, targets).softmax(-1)
    top_prob, argmax = probs.max(-1)
    real = targets != IGNORE_INDEX
    assert torch.equal(argmax[real], ids[real])
    expected = torch.where(real, top_prob, torch.ones_like(top_prob)).prod(1)
    assert torch.allclose(scores, expected, atol=1e-5)


def test_greedy_decoding_handles_no_words():
    head = small_head().eval()
    ids, scores = greedy_decode(head.decoder, torch.zeros(0, 784, 16), max_steps=7)
    assert ids.shape == (0, 7) and scores.shape == (0,)
    texts, text_scores = head.predict(torch.zeros(0, 8, 28, 28))
    assert texts == [] and text_scores.shape == (0,)


def test_predict_blanks_texts_below_recognition_threshold():
    torch.manual_seed(0)
    feats = torch.randn(4, 8, 28, 28)
    head = small_head(recognition_threshold=0.0).eval()
    texts, scores = head.predict(feats)
    assert len(texts) == 4 and scores.shape == (4,)
    assert all(len(text) <= head.codec.max_length and set(text) <= set('abcde') for text in texts)
    head.recognition_threshold = float(scores.max()) + 1e-3
    blank_texts, same_scores = head.predict(feats)
    assert blank_texts == [''] * 4
    assert torch.equal(scores, same_scores)


# --------------------------------------------------------------------------------------------------------------------
# Learning a toy task
TOY_ALPHABET = 'abcde'
# Pairs that differ only in order ('ab'/'ba') need the decoder to read left to right.
TOY_WORDS = ['ab', 'ba', 'cab', 'ed', 'de', 'bead', 'dc', 'eeca', 'a', 'ddb']


def toy_features(words, noise, generator):
    """Feature maps that spell each word left to right: column band j of the 28x28 map is "on" in the channel of the
    word's j-th character (one channel per alphabet character), plus Gaussian noise."""
    feats = torch.randn(len(words), len(TOY_ALPHABET), 28, 28, generator=generator) * noise
    for row, word in enumerate(words):
        band = 28 // len(word)
        for j, char in enumerate(word):
            feats[row, TOY_ALPHABET.index(char), 4:24, j * band:(j + 1) * band] += 1.0
    return feats


@pytest.fixture
def one_torch_thread():
    # The toy model's tensors are tiny: a second thread only adds synchronization, which gets very slow (10x measured)
    # when other processes compete for the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_head_learns_toy_words_and_both_decoding_modes_agree(one_torch_thread):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    head = TextRecognitionHead(in_channels=len(TOY_ALPHABET), alphabet=TOY_ALPHABET, max_length=6,
                               encoder_channels=32, hidden_size=32, recognition_threshold=0.5)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(150):
        loss = head.loss(toy_features(TOY_WORDS, 0.3, generator), TOY_WORDS)['loss_text']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05

    head.eval()
    feats = toy_features(TOY_WORDS, 0.3, generator)  # fresh noise
    texts, scores = head.predict(feats)
    assert texts == TOY_WORDS
    assert (scores > 0.5).all()
    targets, _ = head.codec.encode(TOY_WORDS)
    with torch.no_grad():
        forced = teacher_forced_logits(head.decoder, head.encode(feats), targets).argmax(-1)
    real = targets != IGNORE_INDEX
    assert torch.equal(forced[real], targets[real])


# --------------------------------------------------------------------------------------------------------------------
# Reordering the alphabet of trained weights (Open Model Zoo's order)
OMZ_ORDER = 'abcdefghijklmnopqrstuvwxyz0123456789'


def test_class_order_keeps_sos_eos_and_maps_each_character():
    order = class_order('ab0', '0ab')
    assert order == [SOS_INDEX, EOS_INDEX, 4, 2, 3]
    assert TextCodec('ab0', 5).decode([[4, 2, EOS_INDEX]]) == TextCodec('0ab', 5).decode([[2, 3, EOS_INDEX]])
    for other in ('ab', 'ab01', 'abb', 'abc'):
        with pytest.raises(ValueError, match='not a reordering'):
            class_order('ab0', other)


def test_reordered_weights_read_the_same_words(one_torch_thread):
    torch.manual_seed(0)
    old = TextRecognitionHead(in_channels=8, alphabet=ALPHABET, max_length=6, encoder_channels=16, hidden_size=16,
                              recognition_threshold=0.0).eval()
    with torch.no_grad():  # a random head that reads words of letters and digits rather than near-ties
        old.decoder.embedding.weight.mul_(3)
        old.decoder.gru.weight_hh_l0.mul_(3)
        old.decoder.classifier.weight.mul_(10)
    feats = torch.randn(12, 8, 28, 28, generator=torch.Generator().manual_seed(1)) * 3
    texts, _ = old.predict(feats)
    assert any(c.isdigit() for c in ''.join(texts)) and any(c.isalpha() for c in ''.join(texts))

    # a whole model's FP16 state dict, as a shipped snapshot holds it
    prefix = 'roi_head.text_head.'
    state = {prefix + name: tensor.half() for name, tensor in old.state_dict().items()}
    state['backbone.conv.weight'] = torch.ones(2)
    reordered = reorder_alphabet(state, ALPHABET, OMZ_ORDER, prefix=prefix)
    assert reordered['backbone.conv.weight'] is state['backbone.conv.weight']
    assert reordered[prefix + 'decoder.classifier.bias'].dtype == torch.float16
    assert not torch.equal(reordered[prefix + 'decoder.embedding.weight'], state[prefix + 'decoder.embedding.weight'])
    new = TextRecognitionHead(in_channels=8, alphabet=OMZ_ORDER, max_length=6, encoder_channels=16, hidden_size=16,
                              recognition_threshold=0.0).eval()
    new.load_state_dict({name[len(prefix):]: tensor.float() for name, tensor in reordered.items()
                         if name.startswith(prefix)})
    old.load_state_dict({name[len(prefix):]: tensor.float() for name, tensor in state.items()
                         if name.startswith(prefix)})  # the same FP16 rounding on both sides
    texts, scores = old.predict(feats)
    new_texts, new_scores = new.predict(feats)
    assert new_texts == texts and torch.allclose(new_scores, scores, rtol=1e-5, atol=0)  # softmax sums in another order
    # one decoder step, fed any symbol: the same logits, in the new class order
    order = torch.tensor(class_order(ALPHABET, OMZ_ORDER))
    old_symbols = torch.randint(0, len(order), (12,), generator=torch.Generator().manual_seed(2))
    new_symbols = torch.argsort(order)[old_symbols]
    hidden, encoded = torch.randn(1, 12, 16), old.encode(feats)
    with torch.no_grad():
        old_logits, old_hidden = old.decoder(old_symbols, hidden, encoded)
        new_logits, new_hidden = new.decoder(new_symbols, hidden, encoded)
    assert torch.allclose(new_logits, old_logits[:, order], atol=1e-6) and torch.equal(new_hidden, old_hidden)

    old.reorder_alphabet(OMZ_ORDER)  # the same, in place on a module
    assert old.codec.alphabet == OMZ_ORDER and old.predict(feats)[0] == texts
    with pytest.raises(KeyError, match='roi_head.text_head.decoder.embedding.weight'):
        reorder_alphabet(old.state_dict(), OMZ_ORDER, ALPHABET, prefix=prefix)
