// Vercel's AI SDK against the gateway: generateText (or streamText) with two tools over several
// steps. Reads GATEWAY_URL, GATEWAY_API_KEY, and AI_SDK_API ("chat": Chat Completions, "responses":
// the Responses API) and AI_SDK_STREAM ("1": streamText); prints one JSON line: the final text,
// the tool calls the SDK executed, in order, each step's finish reason, and the requests the SDK
// sent (body, status, and the parameters the gateway named in X-Gateway-Ignored-Params).
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const WEATHER = { Oslo: "cold, 3 C", Rome: "sunny, 24 C" };
const TIME = { Oslo: "09:15" };

const sent = [];
async function recordingFetch(url, init) {
  const response = await fetch(url, init);
  sent.push({
    path: new URL(url).pathname,
    body: JSON.parse(init.body),
    status: response.status,
    ignored: response.headers.get("x-gateway-ignored-params"),
  });
  return response;
}

const provider = createOpenAI({
  baseURL: process.env.GATEWAY_URL,
  apiKey: process.env.GATEWAY_API_KEY,
  fetch: recordingFetch,
});
const api = process.env.AI_SDK_API ?? "chat";
const model = api === "responses" ? provider.responses("sonnet") : provider.chat("sonnet");
const executed = [];

const tools = {
  get_weather: tool({
    description: "The current weather in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      executed.push(["get_weather", city]);
      return WEATHER[city];
    },
  }),
  get_time: tool({
    description: "The local time in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      executed.push(["get_time", city]);
      return TIME[city];
    },
  }),
};

const request = {
  model,
  system: "Answer with the tools.",
  prompt: "Weather in Oslo and Rome, and the time in Oslo?",
  tools,
  stopWhen: stepCountIs(5),
  maxRetries: 0,
};

let text, steps;
if (process.env.AI_SDK_STREAM === "1") {
  const result = streamText({ ...request, onError: ({ error }) => { throw error; } });
  text = await result.text;
  steps = await result.steps;
} else {
  const result = await generateText(request);
  text = result.text;
  steps = result.steps;
}
console.log(JSON.stringify({ text, executed, finishReasons: steps.map((step) => step.finishReason), sent }));
