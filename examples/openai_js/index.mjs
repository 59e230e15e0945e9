// Claude Gateway from the official OpenAI JavaScript client.
//
//   npm install && node index.mjs
//
// Environment:
//   GATEWAY_URL      base URL including /v1   (default http://127.0.0.1:8000/v1)
//   GATEWAY_API_KEY  a key from GATEWAY_API_KEYS; any string if the gateway has no keys
//                    (default "not-needed")
//   GATEWAY_MODEL    sonnet, opus, haiku, a claude-... id or a configured alias (default sonnet)

import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.GATEWAY_URL ?? "http://127.0.0.1:8000/v1",
  apiKey: process.env.GATEWAY_API_KEY ?? "not-needed",
});
const model = process.env.GATEWAY_MODEL ?? "sonnet";

async function nonStreaming() {
  console.log("== non-streaming ==");
  const response = await client.chat.completions.create({
    model,
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Name three primary colours." },
    ],
  });
  const message = response.choices[0].message;
  // When Claude thinks, the thinking comes as `reasoning_content` (an extension to OpenAI's schema).
  if (message.reasoning_content) console.log(`[thinking] ${message.reasoning_content}`);
  console.log(message.content);
  console.log(`finish_reason=${response.choices[0].finish_reason}`, "usage=", response.usage);
}

async function streaming() {
  console.log("\n== streaming ==");
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: "Count from 1 to 5." }],
    stream: true,
    stream_options: { include_usage: true }, // a last chunk with usage and no choices
  });
  let thinking = false; // inside Claude's thinking, which streams before the answer
  for await (const chunk of stream) {
    if (chunk.usage) console.log("\nusage=", chunk.usage);
    const choice = chunk.choices[0];
    if (!choice) continue;
    const reasoning = choice.delta.reasoning_content;
    if (reasoning) {
      process.stdout.write(thinking ? reasoning : `[thinking] ${reasoning}`);
      thinking = true;
    }
    if (choice.delta.content) {
      if (thinking) process.stdout.write("\n");
      thinking = false;
      process.stdout.write(choice.delta.content);
    }
    if (choice.finish_reason) process.stdout.write(`\nfinish_reason=${choice.finish_reason}`);
  }
  console.log();
}

try {
  await nonStreaming();
  await streaming();
} catch (error) {
  if (error instanceof OpenAI.APIError) {
    // The gateway answers errors in OpenAI's envelope: status, code and message as usual.
    console.error(`gateway error ${error.status} (${error.code}): ${error.message}`);
    process.exit(1);
  }
  throw error;
}
