// test.mjs - `gptoss serve` driven by the official openai npm client.
// GPTOSS_URL: a server sampling from the small random model (the text is
// gibberish; the shapes are checked). GPTOSS_SCRIPT_URL: a server with
// --script script.jsonl (one line per request below, in order), so the
// harmony-to-API mapping is checked exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const random = new OpenAI({ baseURL: `${process.env.GPTOSS_URL}/v1`, apiKey: 'unused', maxRetries: 0 });
const scripted = new OpenAI({ baseURL: `${process.env.GPTOSS_SCRIPT_URL}/v1`, apiKey: 'unused', maxRetries: 0 });
const model = 'mini';

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

test('models list the served model', async () => {
  const models = [];
  for await (const m of random.models.list()) models.push(m.id);
  assert.deepEqual(models, [model]);
  const m = await random.models.retrieve(model);
  assert.equal(m.id, model);
  await assert.rejects(random.models.retrieve('nope'), OpenAI.NotFoundError);
});

test('chat completion, plain', async () => {
  const r = await random.chat.completions.create({
    model, max_tokens: 6, seed: 1, temperature: 0.7, top_p: 0.9, reasoning_effort: 'low',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello!' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 6);
  assert.ok(r.usage.prompt_tokens > 10);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 6);
});

test('chat completion, streaming', async () => {
  const stream = await random.chat.completions.create({
    model, max_tokens: 5, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Stream please' }],
  });
  let chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 2);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 5);
});

test('chat with tools and the stream helper', async () => {
  const stream = random.chat.completions.stream({
    model, max_tokens: 5, tools: [weatherTool], tool_choice: 'auto', parallel_tool_calls: false,
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const done = await stream.finalChatCompletion();
  assert.equal(done.choices[0].message.role, 'assistant');
  assert.ok(['length', 'stop', 'tool_calls'].includes(done.choices[0].finish_reason));
});

test('Responses, plain and streaming', async () => {
  const r = await random.responses.create({ model, input: 'Hi there', instructions: 'Be brief', max_output_tokens: 6 });
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'incomplete');
  assert.equal(r.usage.output_tokens, 6);
  const stream = random.responses.stream({ model, input: [{ role: 'user', content: 'Hi' }], max_output_tokens: 4,
                                            reasoning: { effort: 'high' } });
  const types = new Set();
  for await (const event of stream) types.add(event.type);
  const final = await stream.finalResponse();
  assert.ok(types.has('response.created'));
  assert.ok(types.has('response.incomplete'));
  assert.equal(final.usage.output_tokens, 4);
});

test('errors come back as OpenAI errors', async () => {
  await assert.rejects(
    random.chat.completions.create({ model, n: 2, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'n');
  await assert.rejects(
    random.chat.completions.create({ model, messages: [{ role: 'wizard', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages[0].role');
});

// --- scripted: the exact mapping --------------------------------------------

test('scripted: a full tool-call round trip (chat)', async () => {
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const first = await scripted.chat.completions.create({ model, messages, tools: [weatherTool] });
  const msg = first.choices[0].message;
  assert.equal(first.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.content, null);
  assert.equal(msg.reasoning_content, 'The user wants the weather in Paris; call get_weather.');
  assert.equal(msg.tool_calls.length, 1);
  assert.equal(msg.tool_calls[0].type, 'function');
  assert.equal(msg.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), { city: 'Paris' });
  assert.match(msg.tool_calls[0].id, /^call_/);
  // Send back the call (with its reasoning) and the result; stream the answer.
  messages.push(msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '{"sky": "sunny", "celsius": 24}' });
  const stream = scripted.chat.completions.stream({ model, messages, tools: [weatherTool],
                                                     stream_options: { include_usage: true } });
  let reasoning = '';
  stream.on('chunk', (chunk) => { reasoning += chunk.choices[0]?.delta?.reasoning_content ?? ''; });
  const second = await stream.finalChatCompletion();
  assert.equal(second.choices[0].finish_reason, 'stop');
  assert.equal(second.choices[0].message.content, 'It is sunny in Paris, 24 °C.');
  assert.equal(reasoning, 'The tool says sunny, 24 C.');
  assert.ok(second.usage.prompt_tokens_details.cached_tokens > 50, 'the second turn reuses the first one\'s prefix');
});

test('scripted: a streamed tool call (chat)', async () => {
  const stream = scripted.chat.completions.stream({
    model, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Oslo and Bergen?' }] });
  const done = await stream.finalChatCompletion();
  const call = done.choices[0].message.tool_calls[0];
  assert.equal(done.choices[0].finish_reason, 'tool_calls');
  assert.equal(call.function.name, 'get_weather');
  assert.equal(call.function.arguments, '{"city": "Oslo"}');
});

test('scripted: a full tool-call round trip (Responses)', async () => {
  const tools = [{ type: 'function', name: 'get_weather', description: 'Current weather',
                   parameters: weatherTool.function.parameters, strict: false }];
  const input = [{ role: 'user', content: 'Weather in Rome?' }];
  const first = await scripted.responses.create({ model, input, tools, reasoning: { effort: 'low' } });
  assert.deepEqual(first.output.map((o) => o.type), ['reasoning', 'function_call']);
  assert.equal(first.output[0].content[0].text, 'Need the tool.');
  const call = first.output[1];
  assert.equal(call.name, 'get_weather');
  assert.equal(call.arguments, '{"city": "Rome"}');
  input.push(...first.output, { type: 'function_call_output', call_id: call.call_id, output: '{"celsius": 27}' });
  const stream = scripted.responses.stream({ model, input, tools, reasoning: { effort: 'low' } });
  const final = await stream.finalResponse();
  assert.equal(final.status, 'completed');
  assert.deepEqual(final.output.map((o) => o.type), ['reasoning', 'message']);
  assert.equal(final.output_text, 'Rome: warm and clear.');
  assert.ok(final.usage.input_tokens_details.cached_tokens > 50);
});

test('scripted: a malformed header comes back as text', async () => {
  const r = await scripted.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.match(r.choices[0].message.content, /broken header/);
});
