// openai-node against the proxy: `node openai_node.cjs chat|stream|tools`.
//
// The client reads OPENAI_BASE_URL and OPENAI_API_KEY itself; NODE_PATH points
// at the node_modules the tests installed it into. One JSON line goes to stdout.
"use strict";

const OpenAI = require("openai");

const client = new OpenAI({ maxRetries: 0, timeout: 60000 });
const MODEL = "sonnet";

const TOOL_RESULTS = {
  get_weather: (args) => `weather in ${args.city}: sunny, 21C`,
  get_time: (args) => `time in ${args.zone}: 14:05`,
};
const SCHEMAS = {
  get_weather: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  get_time: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] },
};

async function chat() {
  const response = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "Say hello." }],
  });
  const choice = response.choices[0];
  return { content: choice.message.content, finish_reason: choice.finish_reason, usage: response.usage };
}

async function stream() {
  const events = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "Count to four." }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const deltas = [];
  let finish = null;
  let usage = null;
  for await (const chunk of events) {
    if (chunk.usage) usage = chunk.usage;
    if (!chunk.choices.length) continue;
    if (chunk.choices[0].delta.content) deltas.push(chunk.choices[0].delta.content);
    finish = chunk.choices[0].finish_reason || finish;
  }
  return { deltas, finish_reason: finish, usage };
}

// The SDK's own agent loop: runTools calls the functions and sends their results back.
async function tools() {
  const calls = [];
  const runner = client.chat.completions.runTools({
    model: MODEL,
    messages: [{ role: "user", content: "Weather in Paris, then the time in CET?" }],
    tools: Object.entries(SCHEMAS).map(([name, parameters]) => ({
      type: "function",
      function: {
        name,
        description: `${name} tool`,
        parameters,
        parse: JSON.parse,
        function: (args) => {
          calls.push([name, args]);
          return TOOL_RESULTS[name](args);
        },
      },
    })),
  });
  const final = await runner.finalContent();
  return { final, calls, completions: runner.allChatCompletions().length };
}

const MODES = { chat, stream, tools };

MODES[process.argv[2]]().then(
  (result) => process.stdout.write(JSON.stringify(result) + "\n"),
  (error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exit(1);
  },
);
