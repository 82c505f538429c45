#!/usr/bin/env python3
"""The engine's exact precision against an independent reference (ref.py)
on random checkpoints of shapes and lengths the two fixtures do not cover.

    crosscheck.py GPTOSS_BINARY FIXTURES_DIR [--cases N]

1. ref.py must reproduce OpenAI's reference logits of the tiny and small
   fixtures (else the oracle itself is wrong and nothing else is checked).
2. For each case: `gptoss synth` writes a checkpoint, `gptoss logits
   --precision exact` evaluates random tokens (one prefill, or --step, or a
   forced kernel set), and every position's logits must be within 1e-4 of
   the largest |logit| of ref.py's. A case over the bound passes only when
   ref.py saw a near-tied expert choice (top-k router gap under 1e-5), which
   float32 rounding may legitimately flip; it is reported as such.

Exit status 0: all passed; 1: a mismatch; 77: numpy is missing (skipped).
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    # A python3 first on PATH (pyenv, a venv) may lack the system's numpy.
    system = "/usr/bin/python3"
    if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system) \
            and not os.environ.get("GPTOSS_ORACLE_REEXEC"):
        os.environ["GPTOSS_ORACLE_REEXEC"] = "1"
        os.execv(system, [system] + sys.argv)
    print("crosscheck: numpy is not installed (python3-numpy); skipped", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref import Model  # noqa: E402

BOUND = 1e-4  # of max |logit|; float32 engines land at 1e-6..4e-5 here
NEAR_TIE = 1e-5


def shape(hidden, intermediate, head_dim, heads, kv_heads, layers, experts, experts_per_tok, vocab, window,
          init="fixture", seed=1, shards=0):
    """`gptoss synth` options (underscores become dashes)."""
    return locals()


# Chosen for coverage: head sizes with SIMD tails, GQA ratios 1..8, windows
# around the 64-key attention tile, lengths around chunk and tile edges,
# every expert used, sharded files, token-by-token decode, each kernel set.
CASES = [
    ("hd64 gqa8 window128", shape(64, 64, 64, 8, 1, 2, 8, 4, 256, 128), 200, {}),
    ("hd32 gqa5 window4", shape(160, 96, 32, 10, 2, 3, 6, 2, 384, 4), 127, {}),
    ("hd16 3 layers", shape(96, 64, 16, 8, 2, 3, 5, 3, 333, 4), 129, {}),
    ("hd128 fan-in", shape(128, 64, 128, 4, 1, 2, 8, 2, 256, 16, "fan-in", 90), 200, {}),
    ("hd80 gqa5", shape(160, 96, 80, 5, 1, 2, 8, 2, 256, 128, "fan-in", 93), 200, {}),
    ("hd24 window1", shape(64, 64, 24, 3, 3, 2, 8, 2, 256, 1, "fixture", 94), 129, {}),
    ("window 63", shape(64, 64, 32, 4, 2, 2, 8, 2, 256, 63, "fixture", 163), 200, {}),
    ("window 65", shape(64, 64, 32, 4, 2, 2, 8, 2, 256, 65, "fixture", 165), 200, {}),
    ("32 experts top-4", shape(128, 64, 64, 4, 2, 2, 32, 4, 500, 128, "fixture", 24), 200, {}),
    ("all 8 experts", shape(64, 64, 32, 4, 2, 2, 8, 8, 256, 16, "fixture", 96), 129, {}),
    ("6 layers fan-in", shape(64, 64, 16, 8, 2, 6, 16, 4, 300, 16, "fan-in", 43), 200, {}),
    ("3 shards", shape(128, 64, 32, 4, 2, 3, 8, 2, 300, 16, "fixture", 60, 3), 65, {}),
    ("one token", shape(96, 64, 32, 6, 2, 2, 8, 2, 300, 16, "fixture", 50), 1, {}),
    ("511 tokens", shape(64, 64, 64, 4, 2, 2, 8, 2, 256, 128, "fan-in", 110), 511, {}),
    ("step window16", shape(96, 64, 32, 6, 2, 2, 8, 2, 300, 16, "fixture", 50), 130, {"step": True}),
    ("step window128", shape(64, 64, 64, 4, 2, 2, 8, 4, 256, 128, "fan-in", 51), 200, {"step": True}),
    ("scalar kernels", shape(128, 96, 32, 8, 2, 2, 8, 2, 300, 16, "fan-in", 80), 129, {"kernels": "scalar"}),
    ("avx2 kernels", shape(128, 96, 32, 8, 2, 2, 8, 2, 300, 16, "fan-in", 80), 129, {"kernels": "avx2"}),
    ("avx512 kernels, step", shape(64, 64, 16, 4, 2, 2, 8, 2, 128, 4, "fixture", 83), 66,
     {"kernels": "avx512", "step": True}),
]


def random_cases(n, seed=2024):
    """Random shapes drawn over the same ranges, for breadth."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        head_dim = int(rng.choice([8, 16, 32, 48, 64, 128]))
        kv = int(rng.integers(1, 5))
        experts = int(rng.integers(2, 33))
        k = int(rng.integers(1, min(experts, 4) + 1))
        s = shape(32 * int(rng.integers(1, 9)), 32 * int(rng.integers(1, 7)), head_dim,
                  kv * int(rng.choice([1, 2, 3, 4, 8])), kv, int(rng.integers(1, 5)), experts, k,
                  int(rng.integers(100, 1001)), int(rng.choice([1, 4, 16, 64, 128])),
                  str(rng.choice(["fixture", "fan-in"])), 1000 + i)
        out.append(("random %d" % i, s, int(rng.choice([2, 33, 64, 65, 129, 200])), {}))
    return out


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd[:2]), r.returncode, r.stderr.strip()[-500:]))
    return r.stdout


def check_fixtures(fixtures):
    for name in ("tiny", "small"):
        folder = os.path.join(fixtures, name)
        tokens = np.fromfile(os.path.join(folder, "reference", "sequence_tokens.i32.bin"), dtype="<i4")
        logits, _ = Model(folder).forward(tokens.tolist())
        oracle = np.fromfile(os.path.join(folder, "reference", "logits.f32.bin"), dtype="<f4").reshape(logits.shape)
        err = np.abs(logits - oracle).max() / np.abs(oracle).max()
        print("ref.py vs OpenAI's reference, %s: %.1e of max |logit|" % (name, err))
        if err > 1e-5:
            print("crosscheck: the numpy reference does not reproduce the fixture; fix ref.py first")
            return False
    return True


def check_case(binary, work, name, s, n, engine):
    folder = os.path.join(work, "model")
    cmd = [binary, "synth", "--out", folder]
    for key, value in s.items():
        cmd += ["--" + key.replace("_", "-"), str(value)]
    run(cmd)
    rng = np.random.default_rng(s["seed"] * 7919 + n)
    tokens = rng.integers(0, s["vocab"], size=n).tolist()
    out = os.path.join(work, "logits.bin")
    cmd = [binary, "logits", "--model", folder, "--precision", "exact", "--out", out,
           "--tokens", ",".join(map(str, tokens))]
    if engine.get("step"):
        cmd.append("--step")
    if engine.get("kernels"):
        cmd += ["--kernels", engine["kernels"]]
    run(cmd)
    ref, stats = Model(folder).forward(tokens)
    got = np.fromfile(out, dtype="<f4").reshape(ref.shape)
    err = np.abs(got - ref).max() / np.abs(ref).max()
    margin = stats["router_margin"]
    verdict = "ok" if err <= BOUND else "near tie" if margin < NEAR_TIE else "MISMATCH"
    mode = ", ".join("%s=%s" % kv for kv in engine.items()) or "prefill"
    print("%-22s %4d tokens  %-28s  max error %.1e  router gap %.1e  %s" % (name, n, mode, err, margin, verdict))
    if verdict == "MISMATCH":
        print("  reproduce: gptoss synth --out DIR %s; gptoss logits --model DIR --precision exact --tokens %s%s"
              % (" ".join("--%s %s" % (k.replace("_", "-"), v) for k, v in s.items()), ",".join(map(str, tokens)),
                 " --step" if engine.get("step") else ""))
    return verdict != "MISMATCH"


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, fixtures = sys.argv[1], sys.argv[2]
    n_random = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--cases" else 8
    if not check_fixtures(fixtures):
        return 1
    ok = True
    with tempfile.TemporaryDirectory(prefix="gptoss-oracle-") as work:
        for name, s, n, engine in CASES + random_cases(n_random):
            try:
                ok = check_case(binary, work, name, s, n, engine) and ok
            except RuntimeError as e:
                if "cannot run the" in str(e):  # a forced kernel set this CPU lacks
                    print("%-22s skipped: %s" % (name, str(e).split(": ", 1)[-1]))
                    continue
                print("%-22s %s" % (name, e))
                ok = False
    print("crosscheck: %s" % ("all cases agree" if ok else "MISMATCH (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
