#!/usr/bin/env python3
"""bench/peers/hf2gguf.py against the checkpoint it converts, read back with
a GGUF reader written here from ggml's definitions (not the converter's code):

    check_hf2gguf.py GPTOSS_BINARY TOKENIZER_JSON HF2GGUF_PY

`gptoss synth` writes a small model with the real vocabulary; both dense
variants are converted; then every tensor is dequantised from the GGUF and
compared with the safetensors values: MXFP4 experts exactly (gate = even
rows of gate_up, up = odd rows), Q8_0 within half a step, BF16 and F32
exactly; plus the shapes, the metadata the gpt-oss loader reads, and the
vocabulary. Exit 0 passed, 1 failed, 77 numpy missing (skipped).
"""
import json, os, struct, subprocess, sys, tempfile

try:
    import numpy as np
except ImportError:
    if os.path.exists('/usr/bin/python3') and not os.environ.get('GPTOSS_NUMPY_REEXEC'):
        os.environ['GPTOSS_NUMPY_REEXEC'] = '1'  # a python3 first on PATH may lack the system's numpy
        os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
    print('check_hf2gguf: numpy is missing; skipped')
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'oracle'))
import ref  # noqa: E402  (safetensors reading and MXFP4 dequantisation of the release layout)

# ggml-common.h: kvalues_mxfp4 are the E2M1 values doubled; the E8M0 byte e scales by 2^(e-128).
KVALUES_MXFP4 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float64)
TYPE_SIZE = {0: (1, 4), 8: (32, 34), 30: (1, 2), 39: (32, 17)}  # ggml type: (block elements, block bytes)


def read_gguf(path):
    raw = open(path, 'rb').read()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from('<' + fmt, raw, pos)
        pos += struct.calcsize('<' + fmt)
        return values[0] if len(values) == 1 else values

    def string():
        nonlocal pos
        n = take('Q')
        pos += n
        return raw[pos - n:pos].decode('utf-8')

    scalars = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            inner, n = take('I'), take('Q')
            return [value(inner) for _ in range(n)]
        return take(scalars[kind])

    assert raw[:4] == b'GGUF', 'magic'
    pos = 4
    version, n_tensors, n_kv = take('I'), take('Q'), take('Q')
    assert version == 3, version
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take('I'))
    infos = []
    for _ in range(n_tensors):
        name = string()
        ne = [take('Q') for _ in range(take('I'))]
        infos.append((name, ne, take('I'), take('Q')))
    align = meta.get('general.alignment', 32)
    base = -(-pos // align) * align
    tensors = {}
    for name, ne, kind, offset in infos:
        assert offset % align == 0, name
        per_block, block_bytes = TYPE_SIZE[kind]
        count = int(np.prod(ne))
        data = np.frombuffer(raw, np.uint8, count // per_block * block_bytes, base + offset)
        tensors[name] = (kind, list(reversed(ne)), dequantise(kind, data, count).reshape(list(reversed(ne))))
    return meta, tensors


def dequantise(kind, data, count):
    if kind == 0:
        return data.view('<f4').astype(np.float64)
    if kind == 30:
        return (data.view('<u2').astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if kind == 8:
        blocks = data.reshape(-1, 34)
        step = blocks[:, :2].copy().view('<f2').astype(np.float64)
        return (blocks[:, 2:].view(np.int8) * step).reshape(count)
    blocks = data.reshape(-1, 17)
    scale = np.ldexp(1.0, blocks[:, 0].astype(np.int32) - 128)[:, None]
    qs = blocks[:, 1:]
    out = np.concatenate([KVALUES_MXFP4[qs & 15], KVALUES_MXFP4[qs >> 4]], axis=1) * scale
    return out.reshape(count)


failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print('FAIL: ' + what)


def compare_variant(model, gguf, dense, cfg, vocab):
    meta, t = read_gguf(gguf)
    src = ref.load_tensors(model)
    H, I, L, E = cfg['hidden_size'], cfg['intermediate_size'], cfg['num_hidden_layers'], cfg['num_local_experts']
    check(meta['general.architecture'] == 'gpt-oss', 'architecture')
    for key, want in [('block_count', L), ('embedding_length', H), ('expert_feed_forward_length', I),
                      ('expert_count', E), ('expert_used_count', cfg['num_experts_per_tok']),
                      ('attention.head_count', cfg['num_attention_heads']),
                      ('attention.head_count_kv', cfg['num_key_value_heads']),
                      ('attention.key_length', cfg['head_dim']), ('attention.sliding_window', cfg['sliding_window']),
                      ('rope.scaling.original_context_length',
                       cfg['rope_scaling']['original_max_position_embeddings'])]:
        check(meta.get('gpt-oss.' + key) == want, '%s: gpt-oss.%s = %s, want %s' % (dense, key, meta.get('gpt-oss.' + key), want))
    check(abs(meta['gpt-oss.rope.freq_base'] - cfg['rope_theta']) < 1e-3, 'rope.freq_base')
    tokens = meta['tokenizer.ggml.tokens']
    check(len(tokens) == cfg['vocab_size'], 'vocabulary size')
    check(all(tokens[i] == s for s, i in vocab['model']['vocab'].items()), 'vocabulary strings by id')
    check(all(tokens[a['id']] == a['content'] for a in vocab['added_tokens']), 'added tokens by id')
    check(len(meta['tokenizer.ggml.merges']) == len(vocab['model']['merges']), 'merge count')
    check(len(t) == 3 + 19 * L, '%s: %d tensors, want %d' % (dense, len(t), 3 + 19 * L))

    def same(name, want, tolerance=0.0, kind=None):
        if name not in t:
            return check(False, '%s: %s missing' % (dense, name))
        got_kind, shape, got = t[name]
        want = np.asarray(want, dtype=np.float64)
        check(tuple(shape) == want.shape, '%s: %s shape %s, want %s' % (dense, name, shape, want.shape))
        if kind is not None:
            check(got_kind == kind, '%s: %s ggml type %d, want %d' % (dense, name, got_kind, kind))
        if tuple(shape) == want.shape:
            err = np.abs(got - want) - tolerance
            check(err.max() <= 0, '%s: %s differs by %g past its tolerance' % (dense, name, err.max()))

    def dense_matrix(name, hf):
        w = src[hf]
        if dense == 'bf16':
            return same(name, w, kind=30)
        step = np.abs(w.reshape(-1, 32)).max(axis=1) / 127.0
        same(name, w, np.repeat(step.astype(np.float16).astype(np.float64) * 0.5001, 32).reshape(w.shape), kind=8)

    dense_matrix('token_embd.weight', 'model.embed_tokens.weight')
    dense_matrix('output.weight', 'lm_head.weight')
    same('output_norm.weight', src['model.norm.weight'], kind=0)
    for layer in range(L):
        hf, b = 'model.layers.%d.' % layer, 'blk.%d.' % layer
        for name, proj in [('attn_q', 'q_proj'), ('attn_k', 'k_proj'), ('attn_v', 'v_proj'), ('attn_output', 'o_proj')]:
            dense_matrix(b + name + '.weight', hf + 'self_attn.%s.weight' % proj)
            same(b + name + '.bias', src[hf + 'self_attn.%s.bias' % proj], kind=0)
        same(b + 'attn_sinks.weight', src[hf + 'self_attn.sinks'], kind=0)
        same(b + 'attn_norm.weight', src[hf + 'input_layernorm.weight'], kind=0)
        same(b + 'post_attention_norm.weight', src[hf + 'post_attention_layernorm.weight'], kind=0)
        same(b + 'ffn_gate_inp.weight', src[hf + 'mlp.router.weight'], kind=0)
        same(b + 'ffn_gate_inp.bias', src[hf + 'mlp.router.bias'], kind=0)
        p = hf + 'mlp.experts.'
        gate_up = ref.dequant_mxfp4(src[p + 'gate_up_proj_blocks'], src[p + 'gate_up_proj_scales'])
        same(b + 'ffn_gate_exps.weight', gate_up[:, 0::2], kind=39)
        same(b + 'ffn_up_exps.weight', gate_up[:, 1::2], kind=39)
        same(b + 'ffn_gate_exps.bias', src[p + 'gate_up_proj_bias'][:, 0::2], kind=0)
        same(b + 'ffn_up_exps.bias', src[p + 'gate_up_proj_bias'][:, 1::2], kind=0)
        same(b + 'ffn_down_exps.weight', ref.dequant_mxfp4(src[p + 'down_proj_blocks'], src[p + 'down_proj_scales']),
             kind=39)
        same(b + 'ffn_down_exps.bias', src[p + 'down_proj_bias'], kind=0)


def main():
    gptoss, tokenizer, converter = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, 'model')
        # intermediate 96 against hidden 64: an expert matrix written transposed fails on its shape
        subprocess.run([gptoss, 'synth', '--preset', 'mini-vocab', '--layers', '3', '--intermediate', '96',
                        '--seed', '11', '--tokenizer', tokenizer, '--out', model], check=True,
                       stdout=subprocess.DEVNULL)
        cfg = json.load(open(os.path.join(model, 'config.json')))
        vocab = json.load(open(tokenizer))
        for dense in ('q8_0', 'bf16'):
            out = os.path.join(tmp, dense + '.gguf')
            subprocess.run([sys.executable, converter, model, out, '--dense', dense], check=True,
                           stdout=subprocess.DEVNULL)
            compare_variant(model, out, dense, cfg, vocab)
        bad = subprocess.run([sys.executable, converter, model, os.path.join(tmp, 'x.gguf'), '--dense', 'f8'],
                             capture_output=True, text=True)
        check(bad.returncode != 0 and 'usage' in bad.stderr, 'an unknown --dense value is refused')
    print('check_hf2gguf: %s' % ('%d failures' % len(failures) if failures else 'every tensor and key agrees'))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
