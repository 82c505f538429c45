#!/usr/bin/env python3
"""An independent numpy reference for the gpt-oss forward pass, written from
the format card (the fixtures' FORMAT.md) without reading the engine's C.
tests/oracle/crosscheck.py first checks it against OpenAI's reference logits
(tests/fixtures/*/reference), then checks the engine against it on shapes
and lengths the fixtures do not cover.

Usage as a library:
    m = Model(folder)                  # loads config.json + safetensors
    logits, stats = m.forward(tokens)  # logits float64 [n, V]; stats dict
CLI:
    ref.py MODEL_DIR --tokens 1,2,3 [--out FILE] [--compare FILE]

Computation is done in float64 on the stored bf16 / MXFP4 values (set
dtype=np.float32 to mimic a float32 engine), except the RoPE cos/sin tables,
which by default are built in float32 exactly as OpenAI's reference does
(Model(..., rope='f64') for exact float64 angles).  hooks for forward():
{'rope_f32': bool, 'yarn_round': bool, 'force': {(layer,pos): [experts]},
 'record': list}.
"""
import json, math, os, struct, sys
import numpy as np

FP4 = np.array([+0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0], dtype=np.float64)


def read_safetensors(path):
    """Return {name: numpy array} (BF16 -> float32 exact, U8 -> uint8)."""
    out = {}
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    hdr = json.loads(raw[8:8 + n].decode('utf-8'))
    base = 8 + n
    for name, info in hdr.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        buf = raw[base + b: base + e]
        shape = tuple(info['shape'])
        dt = info['dtype']
        if dt == 'BF16':
            u16 = np.frombuffer(buf, dtype='<u2').astype(np.uint32) << 16
            arr = u16.view(np.float32).reshape(shape)
        elif dt == 'U8':
            arr = np.frombuffer(buf, dtype=np.uint8).reshape(shape)
        elif dt == 'F32':
            arr = np.frombuffer(buf, dtype='<f4').reshape(shape)
        else:
            raise ValueError('unsupported dtype %s for %s' % (dt, name))
        out[name] = arr
    return out


def load_tensors(folder):
    idx = os.path.join(folder, 'model.safetensors.index.json')
    tensors = {}
    if os.path.exists(idx):
        wm = json.load(open(idx))['weight_map']
        for shard in sorted(set(wm.values())):
            t = read_safetensors(os.path.join(folder, shard))
            tensors.update(t)
        missing = [k for k in wm if k not in tensors]
        if missing:
            raise ValueError('index names tensors absent from shards: %s' % missing[:5])
    else:
        tensors = read_safetensors(os.path.join(folder, 'model.safetensors'))
    return tensors


def dequant_mxfp4(blocks, scales, dtype=np.float64):
    """blocks [E, R, G, 16] u8, scales [E, R, G] u8 -> [E, R, 32G]."""
    E, R, G, B = blocks.shape
    assert B == 16 and scales.shape == (E, R, G)
    lo = FP4[blocks & 0x0F]
    hi = FP4[blocks >> 4]
    vals = np.empty((E, R, G, 32), dtype=np.float64)
    vals[..., 0::2] = lo
    vals[..., 1::2] = hi
    sc = np.ldexp(1.0, scales.astype(np.int32) - 127)  # 2^(s-127)
    vals *= sc[..., None]
    return vals.reshape(E, R, G * 32).astype(dtype)


def rmsnorm(x, g, eps):
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(ms + eps) * g


class Model:
    def __init__(self, folder, dtype=np.float64, rope='f32'):
        # rope='f32': cos/sin tables built like REF-MODEL (float32 inv_freq and
        # float32 angles p*inv_freq) -- the oracle's numerics; rope='f64': exact angles.
        self.dtype = dtype
        self.rope_f32_default = (rope == 'f32')
        cfg = json.load(open(os.path.join(folder, 'config.json')))
        self.cfg = cfg
        self.H = cfg['hidden_size']
        self.I = cfg['intermediate_size']
        self.d = cfg.get('head_dim') or self.H // cfg['num_attention_heads']
        self.nq = cfg['num_attention_heads']
        self.nkv = cfg['num_key_value_heads']
        self.L = cfg['num_hidden_layers']
        self.E = cfg['num_local_experts']
        self.k = cfg.get('num_experts_per_tok', cfg.get('experts_per_token'))
        self.V = cfg['vocab_size']
        self.W = cfg['sliding_window']
        self.eps = cfg.get('rms_norm_eps', 1e-5)
        self.limit = cfg.get('swiglu_limit', 7.0)
        self.alpha = cfg.get('swiglu_alpha', 1.702)
        lt = cfg.get('layer_types')
        if lt:
            assert len(lt) == self.L
            self.sliding = [t == 'sliding_attention' for t in lt]
        else:
            self.sliding = [i % 2 == 0 for i in range(self.L)]
        rs = cfg.get('rope_scaling') or {}
        self.theta = float(cfg.get('rope_theta', 150000))
        self.factor = float(rs.get('factor', 1.0))
        self.beta_fast = float(rs.get('beta_fast', 32.0))
        self.beta_slow = float(rs.get('beta_slow', 1.0))
        self.L0 = float(rs.get('original_max_position_embeddings',
                               cfg.get('initial_context_length', 4096)))
        self.truncate = rs.get('truncate', False)

        T = load_tensors(folder)
        f = lambda name: T[name].astype(dtype)
        self.embed = f('model.embed_tokens.weight')
        self.norm = f('model.norm.weight')
        self.lm_head = f('lm_head.weight')
        self.layers = []
        for n in range(self.L):
            p = 'model.layers.%d.' % n
            lay = dict(
                ln1=f(p + 'input_layernorm.weight'),
                wq=f(p + 'self_attn.q_proj.weight'), bq=f(p + 'self_attn.q_proj.bias'),
                wk=f(p + 'self_attn.k_proj.weight'), bk=f(p + 'self_attn.k_proj.bias'),
                wv=f(p + 'self_attn.v_proj.weight'), bv=f(p + 'self_attn.v_proj.bias'),
                wo=f(p + 'self_attn.o_proj.weight'), bo=f(p + 'self_attn.o_proj.bias'),
                sinks=f(p + 'self_attn.sinks'),
                ln2=f(p + 'post_attention_layernorm.weight'),
                wr=f(p + 'mlp.router.weight'), br=f(p + 'mlp.router.bias'),
                wgu=dequant_mxfp4(T[p + 'mlp.experts.gate_up_proj_blocks'],
                                  T[p + 'mlp.experts.gate_up_proj_scales'], dtype),
                bgu=f(p + 'mlp.experts.gate_up_proj_bias'),
                wd=dequant_mxfp4(T[p + 'mlp.experts.down_proj_blocks'],
                                 T[p + 'mlp.experts.down_proj_scales'], dtype),
                bd=f(p + 'mlp.experts.down_proj_bias'),
            )
            assert lay['wgu'].shape == (self.E, 2 * self.I, self.H), lay['wgu'].shape
            assert lay['wd'].shape == (self.E, self.H, self.I), lay['wd'].shape
            self.layers.append(lay)

    # ---- RoPE / YaRN -------------------------------------------------
    def rope_tables(self, n, yarn_round=False):
        d = self.d
        half = d // 2
        i = np.arange(half, dtype=np.float64)
        f = self.theta ** (-2.0 * i / d)
        s = self.factor
        if s > 1.0:
            low = half * math.log(self.L0 / (self.beta_fast * 2 * math.pi)) / math.log(self.theta)
            high = half * math.log(self.L0 / (self.beta_slow * 2 * math.pi)) / math.log(self.theta)
            if yarn_round or self.truncate:
                low, high = math.floor(low), math.ceil(high)
            ramp = np.clip((i - low) / (high - low), 0.0, 1.0)
            w = f * (1 - ramp) + (f / s) * ramp
            m = 0.1 * math.log(s) + 1.0
        else:
            w, m = f, 1.0
        pos = np.arange(n, dtype=np.float64)[:, None]
        ang = pos * w[None, :]
        return (m * np.cos(ang)).astype(self.dtype), (m * np.sin(ang)).astype(self.dtype)

    def rope_tables_torch_f32(self, n, yarn_round=False):
        """Emulates REF-MODEL's float32 table computation (angles p*w rounded to float32)."""
        f32 = np.float32
        d = self.d
        half = d // 2
        freq = f32(self.theta) ** (np.arange(0, d, 2, dtype=f32) / f32(d))
        s = self.factor
        if s > 1.0:
            conc = 0.1 * math.log(s) + 1.0
            low = half * math.log(self.L0 / (self.beta_fast * 2 * math.pi)) / math.log(self.theta)
            high = half * math.log(self.L0 / (self.beta_slow * 2 * math.pi)) / math.log(self.theta)
            if yarn_round or self.truncate:
                low, high = math.floor(low), math.ceil(high)
            interp = f32(1.0) / (f32(s) * freq)
            extrap = f32(1.0) / freq
            ramp = (np.arange(half, dtype=f32) - f32(low)) / f32(high - low)
            mask = f32(1) - np.clip(ramp, 0, 1)
            inv = interp * (f32(1) - mask) + extrap * mask
        else:
            conc, inv = 1.0, f32(1.0) / freq
        ang = np.arange(n, dtype=f32)[:, None] * inv[None, :]
        return ((np.cos(ang) * f32(conc)).astype(self.dtype), (np.sin(ang) * f32(conc)).astype(self.dtype))

    @staticmethod
    def apply_rope(x, cos, sin):
        # x [n, heads, d]; cos/sin [n, d/2]
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
        c, s = cos[:, None, :], sin[:, None, :]
        return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)

    # ---- forward -----------------------------------------------------
    def forward(self, tokens, hooks=None):
        """tokens: list of ints. Returns (logits [n, V], stats)."""
        hooks = hooks or {}
        toks = np.asarray(tokens, dtype=np.int64)
        n = len(toks)
        d, nq, nkv = self.d, self.nq, self.nkv
        grp = nq // nkv
        x = self.embed[toks].copy()
        if hooks.get('rope_f32', self.rope_f32_default):
            cos, sin = self.rope_tables_torch_f32(n, yarn_round=hooks.get('yarn_round', False))
        else:
            cos, sin = self.rope_tables(n, yarn_round=hooks.get('yarn_round', False))
        pos = np.arange(n)
        causal = pos[None, :] <= pos[:, None]
        stats = {'router_margin': np.inf, 'router_margin_where': None,
                 'router_gaps': []}
        for li, lay in enumerate(self.layers):
            # attention
            t = rmsnorm(x, lay['ln1'], self.eps)
            q = (t @ lay['wq'].T + lay['bq']).reshape(n, nq, d)
            k = (t @ lay['wk'].T + lay['bk']).reshape(n, nkv, d)
            v = (t @ lay['wv'].T + lay['bv']).reshape(n, nkv, d)
            q = self.apply_rope(q, cos, sin)
            k = self.apply_rope(k, cos, sin)
            allowed = causal.copy()
            if self.sliding[li]:
                allowed &= pos[None, :] > pos[:, None] - self.W
            o = np.empty((n, nq, d), dtype=self.dtype)
            for h in range(nq):
                c = h // grp
                sc = (q[:, h, :] @ k[:, c, :].T) / math.sqrt(d)  # [n, n]
                sc = np.where(allowed, sc, -np.inf)
                sink = lay['sinks'][h]
                mx = np.maximum(sc.max(axis=1, keepdims=True), sink)
                e = np.exp(sc - mx)
                den = e.sum(axis=1, keepdims=True) + np.exp(sink - mx)
                a = e / den
                o[:, h, :] = a @ v[:, c, :]
            x = x + o.reshape(n, nq * d) @ lay['wo'].T + lay['bo']
            # MoE
            t = rmsnorm(x, lay['ln2'], self.eps)
            r = t @ lay['wr'].T + lay['br']  # [n, E]
            order = np.argsort(-r, axis=1, kind='stable')
            sel = order[:, :self.k].copy()
            if self.k < self.E:
                rs = np.take_along_axis(r, order, axis=1)
                gap = rs[:, self.k - 1] - rs[:, self.k]
                stats['router_gaps'].append(gap)
                j = int(np.argmin(gap))
                if gap[j] < stats['router_margin']:
                    stats['router_margin'] = float(gap[j])
                    stats['router_margin_where'] = (li, j)
            for (fl, fp), experts in hooks.get('force', {}).items():
                if fl == li:
                    sel[fp] = experts
            if 'record' in hooks:
                hooks['record'].append(dict(layer=li, r=r.copy(), sel=sel.copy()))
            rsel = np.take_along_axis(r, sel, axis=1)
            g = np.exp(rsel - rsel.max(axis=1, keepdims=True))
            g = g / g.sum(axis=1, keepdims=True)
            y = np.zeros_like(x)
            for e_ in range(self.E):
                pp, jj = np.nonzero(sel == e_)
                if len(pp) == 0:
                    continue
                u = t[pp] @ lay['wgu'][e_].T + lay['bgu'][e_]  # [m, 2I]
                glu = u[:, 0::2]
                lin = u[:, 1::2]
                glu = np.minimum(glu, self.limit)
                lin = np.clip(lin, -self.limit, self.limit)
                act = glu * (1.0 / (1.0 + np.exp(-self.alpha * glu))) * (lin + 1.0)
                ye = act @ lay['wd'][e_].T + lay['bd'][e_]
                y[pp] += g[pp, jj][:, None] * ye
            x = x + y
        xf = rmsnorm(x, self.norm, self.eps)
        logits = xf @ self.lm_head.T
        return logits, stats


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--tokens', required=True)
    ap.add_argument('--out')
    ap.add_argument('--compare')
    ap.add_argument('--f32', action='store_true')
    ap.add_argument('--rope', default='f32', choices=['f32', 'f64'])
    a = ap.parse_args()
    toks = [int(s) for s in a.tokens.split(',')]
    m = Model(a.model, np.float32 if a.f32 else np.float64, rope=a.rope)
    lg, st = m.forward(toks)
    print('router margin min %.3g at %s' % (st['router_margin'], st['router_margin_where']))
    if a.out:
        lg.astype('<f4').tofile(a.out)
    if a.compare:
        other = np.fromfile(a.compare, dtype='<f4').reshape(lg.shape)
        err = np.abs(other - lg).max()
        print('max abs %.3e  rel %.3e  (max|ref| %.3f)' % (err, err / np.abs(lg).max(), np.abs(lg).max()))


if __name__ == '__main__':
    main()
