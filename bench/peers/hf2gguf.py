#!/usr/bin/env python3
"""hf2gguf.py - a gpt-oss Hugging Face folder (the release layout, or one that
`gptoss synth` wrote) -> one GGUF file that llama.cpp loads as "gpt-oss", so
the two engines can be timed on the same weights.

    hf2gguf.py MODEL_DIR OUT.gguf [--dense q8_0|bf16]

The experts stay MXFP4; only their nibbles move, to ggml's block_mxfp4
(the E8M0 scale byte, then qs[j] = value j | value j+16 << 4, where the
release packs values 2j, 2j+1 into byte j). gate_up's interleaved rows
split into ffn_gate_exps (even rows) and ffn_up_exps (odd rows). Dense
weights become Q8_0 (as in ggml-org's GGUF, the default) or stay BF16 (as
in the release); norms, biases, sinks and the router are F32. The vocabulary
goes in as a gpt2-style BPE (tokenizer.json's vocab, merges and added tokens).
Needs numpy; progress on stderr, OUT.gguf's path on stdout.
"""
import json
import os
import struct
import sys

import numpy as np

GGML_F32, GGML_Q8_0, GGML_BF16, GGML_MXFP4 = 0, 8, 30, 39
ALIGN = 32
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER, TOKEN_UNUSED = 1, 3, 4, 5


def fail(msg):
    sys.exit('hf2gguf: ' + msg)


def tensor_index(folder):
    """{name: (file, dtype, shape, byte offset)} over every shard, reading headers only."""
    index = os.path.join(folder, 'model.safetensors.index.json')
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))['weight_map'].values()))
    else:
        files = ['model.safetensors']
    out = {}
    for name in files:
        path = os.path.join(folder, name)
        with open(path, 'rb') as f:
            (n,) = struct.unpack('<Q', f.read(8))
            header = json.loads(f.read(n))
        for key, info in header.items():
            if key != '__metadata__':
                out[key] = (path, info['dtype'], tuple(info['shape']), 8 + n + info['data_offsets'][0])
    return out


class Source:
    def __init__(self, folder):
        self.index = tensor_index(folder)

    def raw(self, name, shape=None):
        if name not in self.index:
            fail('tensor %s is missing' % name)
        path, dtype, stored, offset = self.index[name]
        if shape is not None and stored != tuple(shape):
            fail('%s has shape %s, expected %s' % (name, stored, tuple(shape)))
        np_dtype = {'BF16': '<u2', 'U8': np.uint8}.get(dtype)
        if np_dtype is None:
            fail('%s has dtype %s' % (name, dtype))
        return np.memmap(path, dtype=np_dtype, mode='r', offset=offset, shape=stored)

    def f32(self, name, shape=None):
        return (np.asarray(self.raw(name, shape), dtype=np.uint32) << 16).view(np.float32)


def q8_0(x):
    """float32 rows -> Q8_0 blocks: an f16 step, then 32 int8 rounded by that step."""
    blocks = x.reshape(-1, 32)
    step = (np.abs(blocks).max(axis=1) / 127.0).astype('<f2').astype(np.float32)  # the step as stored
    inverse = np.divide(1.0, step, out=np.zeros_like(step), where=step > 0)
    q = np.clip(np.rint(blocks * inverse[:, None]), -127, 127).astype(np.int8)
    out = np.empty((len(blocks), 34), dtype=np.uint8)
    out[:, :2] = step.astype('<f2').view(np.uint8).reshape(-1, 2)  # exact: step is already an f16 value
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def mxfp4(blocks, scales):
    """release blocks [..., 16] + scales [...] -> ggml block_mxfp4 bytes."""
    values = np.empty(blocks.shape[:-1] + (32,), dtype=np.uint8)
    values[..., 0::2], values[..., 1::2] = blocks & 0x0F, blocks >> 4
    out = np.empty(blocks.shape[:-1] + (17,), dtype=np.uint8)
    out[..., 0] = scales
    out[..., 1:] = values[..., :16] | (values[..., 16:] << 4)
    return out.tobytes()


def gguf_string(s):
    b = s.encode('utf-8')
    return struct.pack('<Q', len(b)) + b


def gguf_value(kind, v):
    if kind == 'u32':
        return struct.pack('<II', 4, v)
    if kind == 'f32':
        return struct.pack('<If', 6, v)
    if kind == 'str':
        return struct.pack('<I', 8) + gguf_string(v)
    if kind == 'strings':
        return struct.pack('<IIQ', 9, 8, len(v)) + b''.join(gguf_string(x) for x in v)
    if kind == 'i32s':
        return struct.pack('<IIQ', 9, 5, len(v)) + np.asarray(v, dtype='<i4').tobytes()
    raise ValueError(kind)


class GGUF:
    """Metadata and tensor descriptions first; each tensor's bytes are made while writing."""

    def __init__(self):
        self.meta, self.tensors = [], []

    def set(self, key, kind, value):
        self.meta.append((key, kind, value))

    def tensor(self, name, ne, ggml_type, nbytes, make):
        self.tensors.append((name, ne, ggml_type, nbytes, make))

    def write(self, path):
        head = bytearray(b'GGUF' + struct.pack('<IQQ', 3, len(self.tensors), len(self.meta)))
        for key, kind, value in self.meta:
            head += gguf_string(key) + gguf_value(kind, value)
        offset = 0
        for name, ne, ggml_type, nbytes, _ in self.tensors:
            head += gguf_string(name) + struct.pack('<I%dQIQ' % len(ne), len(ne), *ne, ggml_type, offset)
            offset += -(-nbytes // ALIGN) * ALIGN
        head += b'\0' * (-len(head) % ALIGN)
        done, total = 0, offset
        with open(path + '.tmp', 'wb') as f:
            f.write(head)
            for name, _, _, nbytes, make in self.tensors:
                data = make()
                assert len(data) == nbytes, (name, len(data), nbytes)
                f.write(data + b'\0' * (-nbytes % ALIGN))
                done += -(-nbytes // ALIGN) * ALIGN
                if sys.stderr.isatty():
                    sys.stderr.write('\rwriting %s: %3.0f%%' % (os.path.basename(path), 100.0 * done / total))
        os.replace(path + '.tmp', path)
        if sys.stderr.isatty():
            sys.stderr.write('\n')


def vocabulary(folder, vocab_size):
    tok = json.load(open(os.path.join(folder, 'tokenizer.json')))
    tokens, types = ['[PAD%d]' % i for i in range(vocab_size)], [TOKEN_UNUSED] * vocab_size
    for text, i in tok['model']['vocab'].items():
        tokens[i], types[i] = text, TOKEN_NORMAL
    for t in tok['added_tokens']:
        tokens[t['id']], types[t['id']] = t['content'], TOKEN_CONTROL if t['special'] else TOKEN_USER
    merges = [m if isinstance(m, str) else ' '.join(m) for m in tok['model']['merges']]
    return tokens, types, merges


def convert(folder, out, dense):
    cfg = json.load(open(os.path.join(folder, 'config.json')))
    src = Source(folder)
    H, I, L = cfg['hidden_size'], cfg['intermediate_size'], cfg['num_hidden_layers']
    E, d, V = cfg['num_local_experts'], cfg['head_dim'], cfg['vocab_size']
    nq, nkv = cfg['num_attention_heads'], cfg['num_key_value_heads']
    rope = cfg['rope_scaling']
    g = GGUF()
    g.set('general.architecture', 'str', 'gpt-oss')
    g.set('general.name', 'str', os.path.basename(os.path.abspath(folder)))
    g.set('general.alignment', 'u32', ALIGN)
    for key, kind, value in [
            ('block_count', 'u32', L), ('context_length', 'u32', cfg['max_position_embeddings']),
            ('embedding_length', 'u32', H), ('feed_forward_length', 'u32', I),
            ('expert_feed_forward_length', 'u32', I), ('expert_count', 'u32', E),
            ('expert_used_count', 'u32', cfg['num_experts_per_tok']),
            ('attention.head_count', 'u32', nq), ('attention.head_count_kv', 'u32', nkv),
            ('attention.key_length', 'u32', d), ('attention.value_length', 'u32', d),
            ('attention.sliding_window', 'u32', cfg['sliding_window']),
            ('attention.layer_norm_rms_epsilon', 'f32', cfg['rms_norm_eps']),
            ('rope.freq_base', 'f32', float(cfg['rope_theta'])), ('rope.scaling.type', 'str', 'yarn'),
            ('rope.scaling.factor', 'f32', float(rope['factor'])),
            ('rope.scaling.original_context_length', 'u32', rope['original_max_position_embeddings'])]:
        g.set('gpt-oss.' + key, kind, value)
    tokens, types, merges = vocabulary(folder, V)
    g.set('tokenizer.ggml.model', 'str', 'gpt2')
    g.set('tokenizer.ggml.pre', 'str', 'gpt-4o')
    g.set('tokenizer.ggml.tokens', 'strings', tokens)
    g.set('tokenizer.ggml.token_type', 'i32s', types)
    g.set('tokenizer.ggml.merges', 'strings', merges)
    gen = json.load(open(os.path.join(folder, 'generation_config.json')))
    g.set('tokenizer.ggml.bos_token_id', 'u32', gen['bos_token_id'])
    g.set('tokenizer.ggml.eos_token_id', 'u32', cfg['eos_token_id'])
    g.set('tokenizer.ggml.padding_token_id', 'u32', cfg['pad_token_id'])

    def f32(name, hf, shape, pick=lambda x: x):
        ne = list(reversed(pick(np.empty(shape, dtype=np.uint8)).shape))
        g.tensor(name, ne, GGML_F32, 4 * int(np.prod(ne)),
                 lambda: np.ascontiguousarray(pick(src.f32(hf, shape)), dtype='<f4').tobytes())

    def matrix(name, hf, rows, cols):
        if dense == 'bf16':
            g.tensor(name, [cols, rows], GGML_BF16, 2 * rows * cols, lambda: src.raw(hf, (rows, cols)).tobytes())
        else:
            g.tensor(name, [cols, rows], GGML_Q8_0, rows * cols // 32 * 34,
                     lambda: q8_0(src.f32(hf, (rows, cols))))

    def experts(name, hf, rows, cols, pick):
        g.tensor(name, [cols, rows, E], GGML_MXFP4, E * rows * cols // 32 * 17,
                 lambda: mxfp4(np.asarray(pick(src.raw(hf + '_blocks'))), np.asarray(pick(src.raw(hf + '_scales')))))

    matrix('token_embd.weight', 'model.embed_tokens.weight', V, H)
    even, odd = (lambda x: x[:, 0::2]), (lambda x: x[:, 1::2])
    for layer in range(L):
        hf, b = 'model.layers.%d.' % layer, 'blk.%d.' % layer
        f32(b + 'attn_norm.weight', hf + 'input_layernorm.weight', (H,))
        for name, proj, rows, cols in [('attn_q', 'q_proj', nq * d, H), ('attn_k', 'k_proj', nkv * d, H),
                                       ('attn_v', 'v_proj', nkv * d, H), ('attn_output', 'o_proj', H, nq * d)]:
            matrix(b + name + '.weight', hf + 'self_attn.' + proj + '.weight', rows, cols)
            f32(b + name + '.bias', hf + 'self_attn.' + proj + '.bias', (rows,))
        f32(b + 'attn_sinks.weight', hf + 'self_attn.sinks', (nq,))
        f32(b + 'post_attention_norm.weight', hf + 'post_attention_layernorm.weight', (H,))
        f32(b + 'ffn_gate_inp.weight', hf + 'mlp.router.weight', (E, H))
        f32(b + 'ffn_gate_inp.bias', hf + 'mlp.router.bias', (E,))
        gate_up = hf + 'mlp.experts.gate_up_proj'
        for name, pick in [('ffn_gate_exps', even), ('ffn_up_exps', odd)]:
            experts(b + name + '.weight', gate_up, I, H, pick)
            f32(b + name + '.bias', gate_up + '_bias', (E, 2 * I), pick)
        experts(b + 'ffn_down_exps.weight', hf + 'mlp.experts.down_proj', H, I, lambda x: x)
        f32(b + 'ffn_down_exps.bias', hf + 'mlp.experts.down_proj_bias', (E, H))
    f32('output_norm.weight', 'model.norm.weight', (H,))
    matrix('output.weight', 'lm_head.weight', V, H)
    g.write(out)


def main():
    args = sys.argv[1:]
    dense = 'q8_0'
    if '--dense' in args:
        i = args.index('--dense')
        dense = args[i + 1] if i + 1 < len(args) else ''
        del args[i:i + 2]
    if len(args) != 2 or dense not in ('q8_0', 'bf16'):
        fail('usage: hf2gguf.py MODEL_DIR OUT.gguf [--dense q8_0|bf16]')
    convert(args[0], args[1], dense)
    print(args[1])


if __name__ == '__main__':
    main()
