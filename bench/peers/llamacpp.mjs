// llamacpp.mjs - times llama.cpp (the prebuilt CPU build that the npm package
// node-llama-cpp ships, which picks its kernels for this CPU at run time) on a
// GGUF from hf2gguf.py, the way `gptoss-bench e2e` times gptoss: a prefill of
// --prompt tokens, then --gen greedy tokens decoded one at a time, --reps
// times in fresh contexts; medians reported.
//
//   node llamacpp.mjs --model FILE.gguf [--prompt 128] [--gen 32] [--reps 3] [--threads 2]
//
// stdout: one JSON object (load_s, prefill_tok_s, decode_tok_s, peak_rss_bytes,
// ...); progress on stderr. Run it from a folder whose node_modules holds
// node-llama-cpp (compare.sh copies it there).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const options = {model: "", prompt: 128, gen: 32, reps: 3, threads: 2};
for (let i = 2; i < process.argv.length; i += 2) {
    const key = process.argv[i].replace(/^--/, ""), value = process.argv[i + 1];
    if (!(key in options) || value === undefined) {
        console.error(`llamacpp.mjs: unknown or incomplete option ${process.argv[i]}`);
        process.exit(2);
    }
    options[key] = key === "model" ? value : Number(value);
}
if (!options.model) {
    console.error("usage: node llamacpp.mjs --model FILE.gguf [--prompt N] [--gen N] [--reps N] [--threads N]");
    process.exit(2);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
let start = performance.now();
const model = await llama.loadModel({modelPath: options.model});
const loadS = (performance.now() - start) / 1000;
// token ids spread over the vocabulary; routing, not their values, moves the speed
const prompt = Array.from({length: options.prompt}, (_, i) => (i * 7919 + 13) % 199998);
const prefill = [], decode = [];
for (let rep = 0; rep < options.reps; rep++) {
    const context = await model.createContext({
        contextSize: options.prompt + options.gen + 8, batchSize: Math.max(options.prompt, 32), threads: options.threads,
    });
    const sequence = context.getSequence();
    start = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    prefill.push(options.prompt / ((performance.now() - start) / 1000));
    // the first token evaluated below costs one decode step; timing starts after it
    let produced = 0, firstAt = 0;
    for await (const token of sequence.evaluate([prompt[0]], {temperature: 0})) {
        void token;
        if (produced++ === 0) firstAt = performance.now();
        if (produced === options.gen + 1) break;
    }
    decode.push(options.gen / ((performance.now() - firstAt) / 1000));
    await context.dispose();
    console.error(`llama.cpp run ${rep + 1}/${options.reps}: prefill ${prefill.at(-1).toFixed(2)} tok/s, ` +
                  `decode ${decode.at(-1).toFixed(2)} tok/s`);
}
console.log(JSON.stringify({
    engine: "llama.cpp", load_s: loadS, prefill_tok_s: median(prefill), decode_tok_s: median(decode),
    prefill_runs: prefill, decode_runs: decode, peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    prompt_tokens: options.prompt, gen_tokens: options.gen, threads: options.threads,
}));
